import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';

const dir = new URL('../../deploy/kubernetes/', import.meta.url);

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const objects: K8sObject[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) =>
    parseAllDocuments(readFileSync(new URL(f, dir), 'utf8')).map((d) => d.toJSON() as K8sObject),
  );

const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

/** kubernetes-models: validators generated from the Kubernetes OpenAPI schemas (kubeconform's schemas are not reachable here). */
async function modelFor(object: K8sObject): Promise<{ validate(): void }> {
  const path = object.apiVersion.includes('/') ? object.apiVersion : `v1`;
  const module = (await import(`kubernetes-models/${path}/${object.kind}`)) as Record<
    string,
    new (
      data: unknown,
    ) => { validate(): void }
  >;
  const Model = module[object.kind];
  assert.ok(Model, `${object.apiVersion} ${object.kind} has a model`);
  return new Model(object);
}

describe('deploy/kubernetes', () => {
  it('every manifest is valid against the Kubernetes API schemas', async () => {
    assert.ok(objects.length >= 12);
    for (const object of objects) {
      const model = await modelFor(object);
      assert.doesNotThrow(() => model.validate(), `${object.kind} ${object.metadata.name}`);
    }
  });

  it('the kustomization lists every manifest file', () => {
    const kustomization = readFileSync(new URL('kustomization.yaml', dir), 'utf8');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
      assert.ok(kustomization.includes(`- ${file}`), file);
    }
  });

  it("Lookout's ConfigMap holds a config Lookout accepts", () => {
    const text = find('ConfigMap', 'lookout-config')?.data?.['lookout.yaml'];
    assert.ok(text);
    const path = join(mkdtempSync(join(tmpdir(), 'lookout-k8s-')), 'lookout.yaml');
    writeFileSync(path, text);
    const result = loadConfig({ env: {}, configPath: path });
    assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
    assert.equal(result.config.host, '0.0.0.0');
  });

  it("Lookout's pods get no LOOKOUT_* variables from Kubernetes' service links", () => {
    interface PodSpec {
      enableServiceLinks?: boolean;
      containers: { env?: { name: string; value?: string }[] }[];
    }
    const pod = (find('Deployment', 'lookout') as unknown as { spec: { template: { spec: PodSpec } } }).spec
      .template.spec;
    // What the kubelet adds to a pod for every Service of its namespace, unless service links are off.
    const links: Record<string, string> = {};
    if (pod.enableServiceLinks !== false) {
      for (const service of objects.filter((o) => o.kind === 'Service')) {
        const name = service.metadata.name.toUpperCase().replaceAll('-', '_');
        const ports = (service.spec?.ports ?? []) as { port: number }[];
        links[`${name}_SERVICE_HOST`] = '10.96.0.10';
        for (const { port } of ports) {
          links[`${name}_SERVICE_PORT`] ??= String(port);
          links[`${name}_PORT`] ??= `tcp://10.96.0.10:${port}`;
          links[`${name}_PORT_${port}_TCP`] = `tcp://10.96.0.10:${port}`;
        }
      }
    }
    const env = { ...links, LOOKOUT_SESSION_KEYS: Buffer.alloc(32).toString('base64') };
    const path = join(mkdtempSync(join(tmpdir(), 'lookout-k8s-')), 'lookout.yaml');
    writeFileSync(path, find('ConfigMap', 'lookout-config')?.data?.['lookout.yaml'] ?? '');
    const result = loadConfig({ env, configPath: path });
    assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
    assert.deepEqual(result.warnings, []);
  });

  it('probes hit the health endpoints and the grace period outlasts preStop plus the drain', () => {
    interface Probe {
      httpGet: { path: string };
    }
    interface PodSpec {
      terminationGracePeriodSeconds: number;
      containers: {
        startupProbe: Probe;
        livenessProbe: Probe;
        readinessProbe: Probe;
        lifecycle: { preStop: { sleep: { seconds: number } } };
      }[];
    }
    const deployment = find('Deployment', 'lookout') as unknown as { spec: { template: { spec: PodSpec } } };
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.ok(container);
    assert.equal(container.startupProbe.httpGet.path, '/health/startup');
    assert.equal(container.livenessProbe.httpGet.path, '/health/live');
    assert.equal(container.readinessProbe.httpGet.path, '/health/ready');
    const drain = Number(
      /drainTimeoutSeconds: (\d+)/.exec(
        find('ConfigMap', 'lookout-config')?.data?.['lookout.yaml'] ?? '',
      )?.[1],
    );
    assert.ok(pod.terminationGracePeriodSeconds > container.lifecycle.preStop.sleep.seconds + drain);
  });

  it("the gateway collector's ConfigMap holds otel-collector/config.yaml as it is", () => {
    const shipped = readFileSync(new URL('../../otel-collector/config.yaml', import.meta.url), 'utf8');
    assert.equal(find('ConfigMap', 'otel-gateway-config')?.data?.['config.yaml'], shipped);
  });
});
