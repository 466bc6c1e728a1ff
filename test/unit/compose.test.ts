/**
 * monitoring/docker-compose.yml can't be started here (no Docker engine), so it is checked as far as a
 * file can be: every mounted path exists, images are pinned, and the addresses the services give each
 * other (in env vars, provisioning and Prometheus targets) name services and ports of this file.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { readDashboards } from '../support/dashboards.ts';

const monitoring = fileURLToPath(new URL('../../monitoring/', import.meta.url));

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: string[];
}

const compose = parseYaml(readFileSync(join(monitoring, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  assert.ok(found, `service ${name}`);
  return found;
}

interface Mount {
  service: string;
  /** Absolute path on the host. */
  source: string;
  target: string;
  readOnly: boolean;
}

const mounts: Mount[] = Object.entries(services).flatMap(([name, s]) =>
  (s.volumes ?? []).map((volume) => {
    const [source = '', target = '', mode] = volume.split(':');
    assert.ok(source.startsWith('.'), `${name}: ${volume} is a bind mount of a repository path`);
    return { service: name, source: resolve(monitoring, source), target, readOnly: mode === 'ro' };
  }),
);

/** The host path that holds a path inside a container, through that service's bind mounts. */
function hostPath(serviceName: string, containerPath: string): string | undefined {
  for (const mount of mounts.filter((m) => m.service === serviceName)) {
    if (containerPath === mount.target) return mount.source;
    const rest = posix.relative(mount.target, containerPath);
    if (!rest.startsWith('..') && !posix.isAbsolute(rest)) return join(mount.source, rest);
  }
  return undefined;
}

/** The argument of a `--flag=value` or `--flag value` in a command. */
function flag(command: string[] | undefined, name: string): string | undefined {
  const list = command ?? [];
  const inline = list.find((a) => a.startsWith(`${name}=`));
  if (inline) return inline.slice(name.length + 1);
  const at = list.indexOf(name);
  return at === -1 ? undefined : list[at + 1];
}

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
const hostOf = (address: string) => address.slice(0, address.lastIndexOf(':'));

/** host:port pairs a service answers on inside the compose network, as its own settings say. */
const listens: Record<string, (port: number) => boolean> = {
  lookout: (port) => port === 8787,
  'otel-collector': (port) => {
    const env = service('otel-collector').environment ?? {};
    const ports = [env.OTLP_GRPC_ENDPOINT, env.OTLP_HTTP_ENDPOINT, env.PROMETHEUS_EXPORTER_ENDPOINT]
      .filter((a): a is string => a !== undefined)
      .map(portOf);
    return ports.includes(port) || port === Number(env.COLLECTOR_TELEMETRY_PORT);
  },
  jaeger: (port) =>
    Object.entries(service('jaeger').environment ?? {})
      .filter(([k]) => k.endsWith('_ENDPOINT'))
      .some(([, v]) => portOf(v) === port),
  prometheus: (port) => port === 9090,
  alertmanager: (port) => port === 9093,
  grafana: (port) => port === 3000,
};

function assertReachable(address: string, where: string): void {
  const url = address.includes('://') ? new URL(address) : new URL(`tcp://${address}`);
  const check = listens[url.hostname];
  assert.ok(check, `${where}: ${url.hostname} is not a compose service`);
  assert.ok(check(Number(url.port)), `${where}: ${url.hostname} does not listen on ${url.port}`);
}

describe('monitoring/docker-compose.yml', () => {
  it('runs the six services of the stack', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'alertmanager',
      'grafana',
      'jaeger',
      'lookout',
      'otel-collector',
      'prometheus',
    ]);
  });

  it('mounts only paths that exist in the repository, read-only', () => {
    assert.ok(mounts.length >= 7);
    for (const mount of mounts) {
      const where = `${mount.service}: ${relative(monitoring, mount.source)}`;
      assert.ok(existsSync(mount.source), `${where} does not exist`);
      assert.ok(mount.readOnly, `${where} is mounted read-only`);
    }
  });

  it('builds Lookout from the repository Dockerfile', () => {
    const build = service('lookout').build;
    assert.ok(build);
    const context = resolve(monitoring, build.context);
    assert.ok(statSync(join(context, build.dockerfile ?? 'Dockerfile')).isFile());
    assert.ok(existsSync(join(context, 'package.json')));
  });

  it('pins every image to a version', () => {
    const images = Object.fromEntries(
      Object.entries(services)
        .filter(([, s]) => s.image && !s.build)
        .map(([name, s]) => [name, s.image]),
    );
    assert.deepEqual(images, {
      'otel-collector': 'otel/opentelemetry-collector-contrib:0.161.0',
      jaeger: 'jaegertracing/jaeger:2.13.0',
      prometheus: 'prom/prometheus:v2.42.0',
      alertmanager: 'prom/alertmanager:v0.25.0',
      grafana: images.grafana,
    });
    assert.match(String(images.grafana), /^grafana\/grafana:\d+\.\d+\.\d+$/);
  });

  it('gives each config file to the process that reads it, where the command says', () => {
    const configs: [string, string | undefined][] = [
      ['lookout', flag(service('lookout').command, '--config')],
      ['otel-collector', flag(service('otel-collector').command, '--config')],
      ['jaeger', flag(service('jaeger').command, '--config')],
      ['prometheus', flag(service('prometheus').command, '--config.file')],
      ['alertmanager', flag(service('alertmanager').command, '--config.file')],
    ];
    const expected: Record<string, string> = {
      lookout: 'lookout.yaml',
      'otel-collector': '../otel-collector/config.yaml',
      jaeger: 'jaeger/config.yaml',
      prometheus: 'prometheus/prometheus.yml',
      alertmanager: 'alertmanager/alertmanager.yml',
    };
    for (const [name, containerPath] of configs) {
      assert.ok(containerPath, `${name} is given a config file`);
      const source = hostPath(name, containerPath);
      assert.equal(source && relative(monitoring, source), expected[name], name);
      assert.ok(source && existsSync(source), `${name}: ${expected[name]} exists`);
    }
  });

  it('runs Lookout with a config it accepts, listening where it is published and scraped', () => {
    const result = loadConfig({ env: {}, configPath: join(monitoring, 'lookout.yaml') });
    assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
    assert.equal(result.config.host, '0.0.0.0');
    assert.equal(result.config.port, 8787);
    assert.ok(result.config.security.allowedHosts.includes('lookout'), 'other containers reach it by name');
    assert.ok(result.config.upstreams.length > 0, 'the demo has an upstream');
    assert.ok(service('lookout').ports?.includes('127.0.0.1:8787:8787'));
  });

  it('points every service at addresses the others listen on', () => {
    assertReachable(service('lookout').environment?.OTEL_EXPORTER_OTLP_ENDPOINT ?? '', 'lookout OTLP');
    const collector = service('otel-collector').environment ?? {};
    assertReachable(collector.JAEGER_OTLP_ENDPOINT ?? '', 'collector → Jaeger');
    assert.equal(
      portOf(collector.JAEGER_OTLP_ENDPOINT ?? ''),
      portOf(service('jaeger').environment?.JAEGER_OTLP_GRPC_ENDPOINT ?? ''),
      "the collector's Jaeger exporter speaks OTLP gRPC",
    );
    assert.equal(
      portOf(service('lookout').environment?.OTEL_EXPORTER_OTLP_ENDPOINT ?? ''),
      portOf(collector.OTLP_HTTP_ENDPOINT ?? ''),
      'Lookout exports OTLP over HTTP',
    );
    for (const name of ['otel-collector', 'jaeger']) {
      for (const [key, value] of Object.entries(service(name).environment ?? {})) {
        if (key.endsWith('_ENDPOINT') && key !== 'JAEGER_OTLP_ENDPOINT')
          assert.equal(hostOf(value), '0.0.0.0', `${name} ${key} listens beyond its loopback`);
      }
    }
  });

  it('gives Grafana its provisioning and the dashboards where the provider reads them', () => {
    const provider = parseYaml(
      readFileSync(join(monitoring, 'grafana/provisioning/dashboards/dashboards.yml'), 'utf8'),
    ) as { providers: { folder: string; options: { path: string } }[] };
    const [lookoutProvider] = provider.providers;
    assert.equal(lookoutProvider?.folder, 'Lookout');
    const dashboardsOnHost = hostPath('grafana', lookoutProvider?.options.path ?? '');
    assert.equal(dashboardsOnHost && relative(monitoring, dashboardsOnHost), 'grafana/dashboards');
    assert.equal(
      relative(monitoring, hostPath('grafana', '/etc/grafana/provisioning') ?? ''),
      'grafana/provisioning',
    );
    const home = service('grafana').environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    assert.ok(existsSync(hostPath('grafana', home) ?? ''), `home dashboard ${home}`);

    const datasources = parseYaml(
      readFileSync(join(monitoring, 'grafana/provisioning/datasources/datasources.yml'), 'utf8'),
    ) as { datasources: { uid: string; url: string }[] };
    for (const source of datasources.datasources) assertReachable(source.url, `data source ${source.uid}`);
  });

  it("tells Grafana Prometheus's scrape interval, which $__rate_interval is made of", () => {
    const prometheus = parseYaml(readFileSync(join(monitoring, 'prometheus/prometheus.yml'), 'utf8')) as {
      global: { scrape_interval: string };
    };
    const datasources = parseYaml(
      readFileSync(join(monitoring, 'grafana/provisioning/datasources/datasources.yml'), 'utf8'),
    ) as { datasources: { uid: string; jsonData?: { timeInterval?: string } }[] };
    const source = datasources.datasources.find((d) => d.uid === 'prometheus');
    assert.equal(source?.jsonData?.timeInterval, prometheus.global.scrape_interval);
  });

  it("publishes the Jaeger UI where the dashboards' trace links point by default", () => {
    const published = (service('jaeger').ports ?? []).map((p) => p.split(':'));
    for (const { file, model } of readDashboards()) {
      const variable = model.templating?.list.find((v) => v.name === 'jaeger_url');
      if (!variable) continue;
      const url = new URL(String(variable.query));
      assert.ok(
        published.some(
          ([host, port]) => port === url.port && (host === '127.0.0.1' || host === url.hostname),
        ),
        `${file}: ${url.href} is published`,
      );
    }
  });

  it('publishes ports on the host loopback only, each once', () => {
    const published = Object.values(services).flatMap((s) => s.ports ?? []);
    for (const port of published) assert.match(port, /^127\.0\.0\.1:\d+:\d+$/);
    const hostPorts = published.map((p) => p.split(':')[1]);
    assert.equal(new Set(hostPorts).size, hostPorts.length);
  });

  it('is described in docs/observability-stack.md as it is: the command and every published port', () => {
    const section = readFileSync(join(monitoring, '../docs/observability-stack.md'), 'utf8');
    assert.ok(section.includes('docker compose -f monitoring/docker-compose.yml up'));
    for (const [name, definition] of Object.entries(services)) {
      for (const port of definition.ports ?? []) {
        const hostPort = port.split(':')[1];
        assert.match(
          section,
          new RegExp(`localhost:${hostPort}\\b`),
          `${name}'s port ${hostPort} in docs/observability-stack.md`,
        );
      }
    }
  });

  it('lets Prometheus find the services under the names and ports of this file', () => {
    const targets = join(monitoring, 'prometheus/targets');
    const files = readdirSync(targets).filter((f) => f.endsWith('.yml'));
    assert.ok(files.length >= 3, 'the checked-in file_sd targets');
    for (const file of files) {
      const groups = (parseYaml(readFileSync(join(targets, file), 'utf8')) ?? []) as { targets: string[] }[];
      for (const address of groups.flatMap((g) => g.targets)) assertReachable(address, `targets/${file}`);
    }
    assert.equal(
      dirname(hostPath('prometheus', '/etc/prometheus/prometheus.yml') ?? ''),
      join(monitoring, 'prometheus'),
    );
  });
});
