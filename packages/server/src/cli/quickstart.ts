import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { formatVersion, isFeatureStoreError, readAll } from '@featurestore/core';
import type { Command } from 'commander';
import { describeConfig } from '../open-feature-store.js';
import { VERSION } from '../version.js';
import { withStore } from './context.js';
import type { CliIo } from './io.js';
import { formatRecord, formatTable } from './io.js';
import {
  customersDefinition,
  transactionsDefinition,
  writeQuickstartData,
} from './quickstart-data.js';

const PROJECT = 'quickstart';

/**
 * The end-to-end example on the configured store (the embedded default unless told
 * otherwise): a deterministic sample is registered, ingested and joined into a
 * point-in-time-correct training set. It recreates its own project, so it can run any
 * number of times.
 */
export function registerQuickstart(program: Command, io: CliIo): void {
  program
    .command('quickstart')
    .description('run the end-to-end example on the configured (by default embedded) store')
    .action(
      withStore(io, async (ctx) => {
        const { engine, principal, config } = ctx.store;
        const started = Date.now();
        const say = (text: string) => io.stdout(`${text}\n`);
        say(`Featurestore ${VERSION} on Node ${process.version}\n`);
        say(formatRecord(describeConfig(config)));

        const existing = await engine.projects.list(principal, { namePrefix: PROJECT });
        if (existing.items.some((project) => project.name === PROJECT)) {
          await engine.projects.delete(principal, PROJECT, { force: true });
        }
        await engine.projects.create(principal, {
          name: PROJECT,
          description: 'the quickstart example',
        });
        const dataDir = join(resolve(config.store), 'quickstart');
        await mkdir(dataDir, { recursive: true });
        const files = await writeQuickstartData(dataDir);
        say(`\n1. created project ${PROJECT} and wrote a sample to ${dataDir}`);

        await engine.featureSets.register(principal, PROJECT, 'customers', customersDefinition);
        await engine.featureSets.register(
          principal,
          PROJECT,
          'transactions',
          transactionsDefinition,
        );
        const updated = await engine.featureSets.update(principal, PROJECT, 'customers', {
          description: 'customer profile, refreshed on change',
        });
        say(
          `2. registered customers and transactions; updated customers' metadata → ${formatVersion(updated.version)}`,
        );

        for (const [name, file] of [
          ['customers', files.customers],
          ['transactions', files.transactions],
        ] as const) {
          const { result } = await engine.offline.ingest(principal, PROJECT, name, file, {
            idempotencyKey: `quickstart-${name}`,
          });
          const ingestion = await result;
          say(
            `3. ingested ${ingestion.rowCount} rows into ${name} (ingestion ${ingestion.ingestionId})`,
          );
        }

        const { result: training } = await engine.offline.historical(principal, {
          entities: files.events,
          entityTime: 'event_time',
          features: [
            `${PROJECT}/customers:age,${PROJECT}/customers:country,${PROJECT}/customers:income,${PROJECT}/transactions:*`,
          ],
          format: 'csv',
        });
        const output = await training;
        const text = (await readAll(await ctx.store.storage.get(output.outputKey)))
          .toString('utf8')
          .trimEnd();
        const [header, ...rows] = text.split('\n');
        const columns = header!.split(',');
        say(
          `4. built a point-in-time-correct training set: ${output.rowCount} rows (one per labelled event, in order)\n`,
        );
        say(
          formatTable(
            rows
              .slice(0, 8)
              .map((row) =>
                Object.fromEntries(row.split(',').map((cell, i) => [columns[i]!, cell])),
              ),
            columns,
          ),
        );
        say(`… ${rows.length - 8} more rows in ${ctx.store.storage.uri(output.outputKey)}`);

        const online = await engine.online?.getOnlineFeatures(principal, {
          features: `${PROJECT}/customers:age,${PROJECT}/customers:country,${PROJECT}/transactions:amount_avg_7d`,
          entities: [{ customer_id: 'c0001' }, { customer_id: 'c0002' }],
        });
        if (online) {
          say(
            '\n5. the latest values, served online (each ingestion was applied to the online store):',
          );
          say(formatTable(online, Object.keys(online[0]!)));
          say(
            '   (transactions has a 7-day time to live: a customer without aggregates in the last 7 days reads as empty)',
          );
        }

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
        say(`\n6. granted consumer to ${analyst.name}, who signed in with a new access token:`);
        try {
          await engine.offline.historical(asAnalyst, {
            entities: files.events,
            entityTime: 'event_time',
            features: `${PROJECT}/customers:income`,
          });
        } catch (error) {
          if (!isFeatureStoreError(error) || error.code !== 'PERMISSION_DENIED') throw error;
          say(`   the sensitive income feature is refused: ${error.message}`);
        }
        say(`\ndone in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }),
    );
}
