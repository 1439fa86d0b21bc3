import { AccessClient } from './access-client.js';
import { CallRunner } from './call-runner.js';
import type { FeatureStoreClientOptions } from './client-options.js';
import { FeatureSetsClient } from './feature-sets-client.js';
import { JobsClient } from './jobs-client.js';
import { OfflineClient } from './offline-client.js';
import { OnlineClient } from './online-client.js';
import { ProjectsClient } from './projects-client.js';
import { SchemaInferenceClient } from './schema-inference-client.js';

/**
 * A client of the Featurestore server. Its services have the engine's method names and
 * arguments, without the principal: the server acts as the owner of the token (or the OIDC
 * identity) the client sends.
 *
 * ```ts
 * const client = new FeatureStoreClient({ endpoint: 'featurestore.internal:50051', token });
 * const project = await client.projects.get('fraud');
 * client.close();
 * ```
 */
export class FeatureStoreClient {
  readonly #calls: CallRunner;
  readonly projects: ProjectsClient;
  readonly featureSets: FeatureSetsClient;
  readonly access: AccessClient;
  readonly online: OnlineClient;
  readonly offline: OfflineClient;
  readonly jobs: JobsClient;
  readonly schemaInference: SchemaInferenceClient;

  /** Options not given come from `FEATURESTORE_ENDPOINT` and `FEATURESTORE_TOKEN`. */
  constructor(options: FeatureStoreClientOptions = {}) {
    this.#calls = new CallRunner(options);
    this.projects = new ProjectsClient(this.#calls);
    this.featureSets = new FeatureSetsClient(this.#calls);
    this.access = new AccessClient(this.#calls);
    this.online = new OnlineClient(this.#calls);
    this.offline = new OfflineClient(this.#calls);
    this.jobs = new JobsClient(this.#calls);
    this.schemaInference = new SchemaInferenceClient(this.#calls);
  }

  /** Closes the connection; calls made afterwards fail. */
  close(): void {
    this.#calls.close();
  }
}
