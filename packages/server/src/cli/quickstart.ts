import { type FeatureSetDefinition, formatVersion, isFeatureStoreError } from '@featurestore/core';
import type { Command } from 'commander';
import { describeConfig } from '../open-feature-store.js';
import { VERSION } from '../version.js';
import { withStore } from './context.js';
import type { CliIo } from './io.js';
import { formatRecord, formatTable } from './io.js';

const PROJECT = 'quickstart';

const customers: FeatureSetDefinition = {
  primaryKey: ['customer_id'],
  eventTime: 'updated_at',
  timeToLive: 'P30D',
  description: 'customer profile',
  tags: { team: 'fraud' },
  features: [
    { name: 'customer_id', type: 'string' },
    { name: 'updated_at', type: 'timestamp' },
    { name: 'age', type: 'int32', description: 'years' },
    { name: 'country', type: 'string' },
    { name: 'income', type: 'float64', sensitive: true },
  ],
};

/**
 * The end-to-end example on the configured store (the embedded default unless told
 * otherwise). It recreates its own project, so it can run any number of times.
 */
export function registerQuickstart(program: Command, io: CliIo): void {
  program
    .command('quickstart')
    .description('run the end-to-end example on the configured (by default embedded) store')
    .action(
      withStore(io, async (ctx) => {
        const { engine, principal, config } = ctx.store;
        const say = (text: string) => io.stdout(`${text}\n`);
        say(`Featurestore ${VERSION} on Node ${process.version}\n`);
        say(formatRecord(describeConfig(config)));

        if (
          (await engine.projects.list(principal, { namePrefix: PROJECT })).items.some(
            (p) => p.name === PROJECT,
          )
        ) {
          await engine.projects.delete(principal, PROJECT, { force: true });
        }
        await engine.projects.create(principal, {
          name: PROJECT,
          description: 'the quickstart example',
        });
        say(`\n1. created project ${PROJECT}`);

        let featureSet = await engine.featureSets.register(
          principal,
          PROJECT,
          'customers',
          customers,
        );
        say(`2. registered ${PROJECT}/customers ${formatVersion(featureSet.version)}`);

        featureSet = await engine.featureSets.update(principal, PROJECT, 'customers', {
          description: 'customer profile, refreshed daily',
          tags: { ...featureSet.tags, tier: 'gold' },
        });
        say(`3. updated its metadata → ${formatVersion(featureSet.version)}`);

        featureSet = await engine.featureSets.update(principal, PROJECT, 'customers', {
          // Only the schema: description and tags, absent here, keep their current values.
          schema: {
            primaryKey: customers.primaryKey,
            eventTime: customers.eventTime,
            features: [...customers.features, { name: 'segment', type: 'string' }],
          },
        });
        say(`4. added a feature → ${formatVersion(featureSet.version)} (a new data lineage)`);

        const versions = await engine.featureSets.versions(principal, PROJECT, 'customers');
        say(
          formatTable(
            versions.map((v) => ({
              version: formatVersion(v.version),
              changes: v.changes.join('; '),
            })),
            ['version', 'changes'],
          ),
        );

        const analyst =
          (await engine.access.listUsers(principal, { pageSize: 1000 })).items.find(
            (user) => user.name === 'analyst',
          ) ?? (await engine.access.createUser(principal, { name: 'analyst' }));
        await engine.access.grant(principal, PROJECT, analyst.name, 'consumer');
        const { secret } = await engine.access.createToken(principal, {
          name: 'quickstart',
          user: analyst.name,
          expiresIn: 'PT1H',
        });
        const asAnalyst = await ctx.store.authenticate(secret);
        say(`\n5. granted consumer to ${analyst.name} and signed in with a new token`);
        const seen = await engine.featureSets.get(asAnalyst, PROJECT, 'customers', '1');
        say(`   ${analyst.name} reads ${PROJECT}/customers ${formatVersion(seen.version)}`);
        try {
          await engine.featureSets.delete(asAnalyst, PROJECT, 'customers');
        } catch (error) {
          if (!isFeatureStoreError(error) || error.code !== 'PERMISSION_DENIED') throw error;
          say(`   and may not delete it: ${error.message}`);
        }
      }),
    );
}
