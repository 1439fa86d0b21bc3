import { ValidationError } from '../errors.js';
import { NAME_PATTERN } from '../identifiers.js';

/** `project/featureset[@version]:feature` or `project/featureset[@version]:*`. */
export interface FeatureRef {
  project: string;
  featureSet: string;
  /** `MAJOR` or `MAJOR.MINOR`; latest when absent. */
  version?: string;
  /** A feature name, or `*` for every feature except the key and event time. */
  feature: string;
}

const REF = /^([a-z][a-z0-9_]*)\/([a-z][a-z0-9_]*)(?:@(\d+(?:\.\d+)?))?:([a-z][a-z0-9_]*|\*)$/;

/**
 * Parses feature references as the CLI's `--features` takes them (comma-separated), naming
 * the first one that is malformed.
 *
 * @example
 * parseFeatureRefs('fraud/transactions:amount,fraud/customers@2:*');
 */
export function parseFeatureRefs(input: string | readonly string[]): FeatureRef[] {
  const items = (typeof input === 'string' ? [input] : input)
    .flatMap((part) => part.split(','))
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (items.length === 0) {
    throw new ValidationError('no feature references given: use PROJECT/FEATURESET:FEATURE', {
      details: { field: 'features' },
    });
  }
  return items.map((item) => {
    const match = REF.exec(item);
    if (!match || match.slice(1, 3).some((name) => !NAME_PATTERN.test(name!))) {
      throw new ValidationError(
        `feature reference ${JSON.stringify(item)} is invalid: write PROJECT/FEATURESET:FEATURE, PROJECT/FEATURESET@VERSION:FEATURE or PROJECT/FEATURESET:*`,
        { details: { field: 'features', value: item } },
      );
    }
    const [, project, featureSet, version, feature] = match;
    return {
      project: project!,
      featureSet: featureSet!,
      feature: feature!,
      ...(version ? { version } : {}),
    };
  });
}
