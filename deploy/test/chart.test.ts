import { beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHART, ROOT, byKind, helm, render, type K8sObject } from './helpers.js';
// @ts-expect-error — plain ESM tool without type declarations
import { diffCopies } from '../../tools/sync-chart-configs.mjs';

const MONITORING = ['--api-versions', 'monitoring.coreos.com/v1'];
const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as {
  services: Record<string, { port: number; shutdownTimeoutSeconds: number; preStopSleepSeconds: number; terminationGracePeriodSeconds: number; secretEnv: Record<string, { secretName: string; key: string }>; command: string[]; pdb?: { enabled?: boolean }; migrations?: { enabled: boolean; command: string[] } }>;
  global: { database: { secretName: string; secretKey: string } };
};

type Container = { name: string; env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>; [k: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

function container(o: K8sObject): Container {
  const spec = o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
  return spec.containers[0] as Container;
}
function envOf(c: Container, name: string) {
  return c.env.find((e) => e.name === name);
}
function named(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = byKind(objects, kind).find((x) => x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} rendered`);
  return o;
}

describe('noctria chart', () => {
  let objects: K8sObject[];
  beforeAll(async () => {
    objects = await render(MONITORING);
  });

  it('passes helm lint --strict', async () => {
    const r = await helm(['lint', CHART, '--strict']);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  it('keeps the copied configs, rules and dashboards identical to their sources', () => {
    expect(diffCopies()).toEqual([]);
  });

  it('renders a Deployment, Service and NetworkPolicy for every service in values, and a PDB where enabled', () => {
    expect(Object.keys(values.services).sort()).toEqual(['features', 'ingest']);
    for (const name of Object.keys(values.services)) {
      const sel = (o: K8sObject) => o.metadata.name === `rel-noctria-${name}`;
      expect(byKind(objects, 'Deployment').filter(sel)).toHaveLength(1);
      expect(byKind(objects, 'Service').filter(sel)).toHaveLength(1);
      expect(byKind(objects, 'PodDisruptionBudget').filter(sel)).toHaveLength(values.services[name]!.pdb?.enabled ? 1 : 0);
      expect(byKind(objects, 'NetworkPolicy').filter(sel)).toHaveLength(1);
      const svc = byKind(objects, 'Service').find(sel)!;
      const dep = byKind(objects, 'Deployment').find(sel)!;
      expect(svc.spec.selector).toEqual(dep.spec.selector.matchLabels);
      expect(svc.spec.ports[0].port).toBe(values.services[name]!.port);
    }
  });

  it('adds a Deployment+Service for a service added as a values entry', async () => {
    const extra = await render([
      ...MONITORING,
      '--set', 'services.extra.enabled=true',
      '--set', 'services.extra.replicas=1',
      '--set', 'services.extra.port=8089',
      '--set', 'services.extra.command={node,dist/services/features/src/main.js}',
      '--set', 'services.extra.shutdownTimeoutSeconds=25',
      '--set', 'services.extra.preStopSleepSeconds=5',
      '--set', 'services.extra.terminationGracePeriodSeconds=40',
      '--set', 'services.extra.resources.requests.cpu=100m',
      '--set', 'services.extra.resources.requests.memory=128Mi',
      '--set', 'services.extra.resources.limits.memory=256Mi',
      '--set-json', 'services.extra.probes={"startup":{},"liveness":{},"readiness":{}}',
    ]);
    const names = (kind: string) => byKind(extra, kind).map((o) => o.metadata.name).sort();
    expect(names('Deployment')).toEqual(['rel-noctria-extra', 'rel-noctria-features', 'rel-noctria-ingest']);
    expect(names('Service')).toEqual(['rel-noctria-extra', 'rel-noctria-features', 'rel-noctria-ingest']);
    expect(names('ServiceMonitor')).toEqual(['rel-noctria-extra', 'rel-noctria-features', 'rel-noctria-ingest']);
    // No migrations configured for the new service: still only the features and ingest Jobs.
    expect(names('Job')).toEqual(['rel-noctria-features-migrate', 'rel-noctria-ingest-migrate']);
  });

  it('the features service: one pod replaced with a Recreate rollout, its port variable, database but no provider egress', async () => {
    const dep = named(objects, 'Deployment', 'rel-noctria-features');
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.strategy).toEqual({ type: 'Recreate' });
    expect(named(objects, 'Deployment', 'rel-noctria-ingest').spec.strategy.type).toBe('RollingUpdate');
    const c = container(dep);
    expect(c.command).toEqual(['node', 'dist/services/features/src/main.js']);
    expect(envOf(c, 'FEATURES_HTTP_PORT')?.value).toBe(String(c.ports[0].containerPort));
    expect(envOf(c, 'NOCTRIA_PROFILE')?.value).toBe('cluster');
    expect(envOf(c, 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: values.global.database.secretName, key: values.global.database.secretKey });
    expect(envOf(c, 'FEATURES_CHECKPOINT_EVERY')?.value).toMatch(/^\d+$/);
    // Shutdown drains the consumer and checkpoints every engine inside the grace period.
    expect(dep.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(c.lifecycle.preStop.exec.command[1]) + values.services.features!.shutdownTimeoutSeconds);
    expect(byKind(objects, 'PodDisruptionBudget').map((o) => o.metadata.name)).toEqual(['rel-noctria-ingest']);
    const np = named(objects, 'NetworkPolicy', 'rel-noctria-features');
    const ports = np.spec.egress.flatMap((r: { ports: Array<{ port: number }> }) => r.ports.map((p) => p.port));
    expect(ports).toEqual(expect.arrayContaining([53, 4222, 5432, 6379]));
    expect(ports).not.toContain(443);
    const job = named(objects, 'Job', 'rel-noctria-features-migrate');
    expect(job.metadata.annotations!['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(container(job).command).toEqual(['node', 'dist/services/features/src/migrate.js']);
    expect(container(job).image).toBe(c.image);
    expect(named(objects, 'ServiceMonitor', 'rel-noctria-features').spec.endpoints[0].relabelings[0]).toMatchObject({ targetLabel: 'service', replacement: 'features' });
  });

  it('refuses more than one replica of a single-writer service', async () => {
    await expect(render(['--set', 'services.features.replicas=2'])).rejects.toThrow(/services\.features is a single writer.*replicas must be 0 or 1/);
  });

  it('probes /healthz (startup, liveness) and /readyz (readiness) on the http port', () => {
    for (const dep of byKind(objects, 'Deployment')) {
      const c = container(dep);
      expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(c.ports).toEqual([{ name: 'http', containerPort: expect.any(Number), protocol: 'TCP' }]);
    }
  });

  it('the ingest container listens where the service reads its port (INGEST_HTTP_PORT)', () => {
    const c = container(byKind(objects, 'Deployment').find((o) => o.metadata.name === 'rel-noctria-ingest')!);
    expect(envOf(c, 'INGEST_HTTP_PORT')?.value).toBe(String(c.ports[0].containerPort));
  });

  it('terminates gracefully: grace period > preStop sleep + the service shutdown timeout', () => {
    for (const [name, svc] of Object.entries(values.services)) {
      const dep = byKind(objects, 'Deployment').find((o) => o.metadata.name === `rel-noctria-${name}`)!;
      const pod = dep.spec.template.spec;
      const sleep = Number(container(dep).lifecycle.preStop.exec.command[1]);
      expect(container(dep).lifecycle.preStop.exec.command[0]).toBe('sleep');
      expect(sleep).toBe(svc.preStopSleepSeconds);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(sleep + svc.shutdownTimeoutSeconds);
    }
  });

  it('refuses a grace period that does not cover preStop + shutdown', async () => {
    await expect(render(['--set', 'services.ingest.terminationGracePeriodSeconds=30'])).rejects.toThrow(/must exceed preStopSleepSeconds \+ shutdownTimeoutSeconds/);
  });

  it('sets requests and limits on every container', () => {
    for (const o of [...byKind(objects, 'Deployment'), ...byKind(objects, 'Job')]) {
      const r = container(o).resources;
      expect(r.requests.cpu).toBeDefined();
      expect(r.requests.memory).toBeDefined();
      expect(r.limits.memory).toBeDefined();
    }
  });

  it('runs non-root with a read-only root filesystem, no capabilities and writable emptyDirs for /tmp and data', () => {
    for (const o of [...byKind(objects, 'Deployment'), ...byKind(objects, 'Job')]) {
      const pod = o.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(pod.automountServiceAccountToken).toBe(false);
      const sc = container(o).securityContext;
      expect(sc).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true });
      expect(sc.capabilities.drop).toContain('ALL');
      expect(sc.capabilities.add).toBeUndefined();
      const tmp = container(o).volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      expect(pod.volumes.find((v: { name: string }) => v.name === tmp.name).emptyDir).toBeDefined();
    }
  });

  it('the schema refuses a privileged or root-fs-writable security context', async () => {
    await expect(render(['--set', 'global.containerSecurityContext.readOnlyRootFilesystem=false'])).rejects.toThrow(/values don't meet the specifications of the schema|readOnlyRootFilesystem/);
    await expect(render(['--set', 'global.podSecurityContext.runAsNonRoot=false'])).rejects.toThrow(/runAsNonRoot/);
  });

  it('passes cluster env from values and secrets only through secretKeyRef', () => {
    const c = container(byKind(objects, 'Deployment').find((o) => o.metadata.name === 'rel-noctria-ingest')!);
    expect(envOf(c, 'NOCTRIA_PROFILE')?.value).toBe('cluster');
    expect(envOf(c, 'SERVICE_ENV')?.value).toBe('prod');
    expect(envOf(c, 'LOG_LEVEL')?.value).toBe('info');
    expect(envOf(c, 'NATS_URL')?.value).toMatch(/^nats:\/\//);
    expect(envOf(c, 'REDIS_URL')?.value).toMatch(/^redis:\/\//);
    expect(envOf(c, 'DATABASE_URL')).toEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: values.global.database.secretName, key: values.global.database.secretKey } } });
    const ref = values.services.ingest!.secretEnv.TWELVEDATA_API_KEY!;
    expect(envOf(c, 'TWELVEDATA_API_KEY')).toEqual({ name: 'TWELVEDATA_API_KEY', valueFrom: { secretKeyRef: { name: ref.secretName, key: ref.key } } });
    expect(envOf(c, 'OTEL_EXPORTER_OTLP_ENDPOINT')).toBeUndefined();
  });

  it('never renders a secret-looking variable as a plain value, in any workload', async () => {
    const all = await render([...MONITORING, '--set', 'services.ingest.retention.enabled=true', '--set', 'global.otelEndpoint=http://otel-collector.monitoring:4318']);
    const workloads = all.filter((o) => ['Deployment', 'Job', 'CronJob'].includes(o.kind));
    // features and ingest Deployments, migration Jobs and retention CronJobs.
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual([
      'rel-noctria-features',
      'rel-noctria-features-migrate',
      'rel-noctria-features-retention',
      'rel-noctria-ingest',
      'rel-noctria-ingest-migrate',
      'rel-noctria-ingest-retention',
    ]);
    for (const w of workloads) {
      for (const e of container(w).env) {
        if (/DATABASE_URL|API_KEY|PASSWORD|SECRET|TOKEN/.test(e.name)) expect(e.valueFrom?.secretKeyRef).toBeDefined();
        expect(e.value ?? '').not.toMatch(/:\/\/[^/@\s]+:[^/@\s]+@/);
      }
    }
    expect(byKind(all, 'Secret')).toEqual([]);
    for (const name of ['rel-noctria-ingest', 'rel-noctria-features']) {
      expect(envOf(container(named(all, 'Deployment', name)), 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value).toBe('http://otel-collector.monitoring:4318');
    }
  });

  it('reads NATS/Redis URLs from Secrets when secretRef is set', async () => {
    const o = await render(['--set', 'global.redis.secretRef.name=redis-auth', '--set', 'global.redis.secretRef.key=url']);
    const c = container(byKind(o, 'Deployment')[0]!);
    expect(envOf(c, 'REDIS_URL')).toEqual({ name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'url' } } });
  });

  it('the schema rejects plaintext credentials and bad values (helm template fails)', async () => {
    const bad: string[][] = [
      ['--set', 'global.database.url=postgres://u:p@db:5432/noctria'],
      ['--set', 'global.redis.url=redis://:hunter2@redis:6379/0'],
      ['--set', 'services.ingest.env.TWELVEDATA_API_KEY=abcdefgh123'],
      ['--set', 'services.ingest.env.DATABASE_URL=postgres://db/noctria'],
      ['--set', 'services.ingest.replicas=-1'],
      ['--set', 'global.serviceEnv=production'],
      ['--set', 'global.logLevel=verbose'],
      ['--set', 'services.ingest.port=70000'],
      ['--set', 'services.ingest.resources=null'],
    ];
    for (const args of bad) {
      const r = await helm(['template', 'rel', CHART, ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.stderr).toMatch(/schema/i);
    }
  });

  it('runs migrations in a pre-install/pre-upgrade hook Job with the service image and DATABASE_URL from the Secret', () => {
    const job = named(objects, 'Job', 'rel-noctria-ingest-migrate');
    expect(job!.metadata.annotations!['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(job!.metadata.annotations!['helm.sh/hook-delete-policy']).toContain('before-hook-creation');
    const c = container(job!);
    const dep = container(named(objects, 'Deployment', 'rel-noctria-ingest'));
    expect(c.image).toBe(dep.image);
    expect(c.command).toEqual(['node', 'dist/services/ingest/src/migrate.js']);
    expect(envOf(c, 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: values.global.database.secretName, key: values.global.database.secretKey });
    expect(job!.spec.template.spec.restartPolicy).toBe('Never');
    // The hook runs before the release's ServiceAccount exists.
    expect(job!.spec.template.spec.serviceAccountName).toBeUndefined();
    // Its NetworkPolicy is a hook too, created first.
    const np = byKind(objects, 'NetworkPolicy').find((o) => o.metadata.name === 'rel-noctria-jobs')!;
    expect(Number(np.metadata.annotations!['helm.sh/hook-weight'])).toBeLessThan(Number(job!.metadata.annotations!['helm.sh/hook-weight']));
  });

  it('every command the workloads run is an entry file of the build layout (src/<x>.ts → dist/<x>.js)', async () => {
    const all = await render(['--set', 'services.ingest.retention.enabled=true']);
    const commands = all.filter((o) => ['Deployment', 'Job', 'CronJob'].includes(o.kind)).map((o) => container(o).command as string[]);
    expect(commands.length).toBeGreaterThanOrEqual(6);
    for (const cmd of commands) {
      expect(cmd[0]).toBe('node');
      const ts = cmd[1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(readdirSync(join(ROOT, ts, '..'))).toContain(ts.split('/').pop());
    }
  });

  it('mounts every configs/*.yaml and its JSON Schema where the policy loader looks (NOCTRIA_CONFIG_DIR, schemas/)', () => {
    const cm = byKind(objects, 'ConfigMap').find((o) => o.metadata.name === 'rel-noctria-policies')!;
    const yamls = readdirSync(join(ROOT, 'configs')).filter((f) => f.endsWith('.yaml'));
    const schemas = readdirSync(join(ROOT, 'configs', 'schemas')).filter((f) => f.endsWith('.schema.json'));
    expect(Object.keys(cm.data!).sort()).toEqual([...yamls, ...schemas].sort());
    for (const f of yamls) expect(cm.data![f]).toBe(readFileSync(join(ROOT, 'configs', f), 'utf8'));
    const dep = byKind(objects, 'Deployment')[0]!;
    const c = container(dep);
    const dir = envOf(c, 'NOCTRIA_CONFIG_DIR')!.value!;
    const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === dir);
    const vol = dep.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    const paths = Object.fromEntries(vol.configMap.items.map((i: { key: string; path: string }) => [i.key, i.path]));
    for (const f of yamls) expect(paths[f]).toBe(f);
    for (const f of schemas) expect(paths[f]).toBe(`schemas/${f}`);
    expect(dep.spec.template.metadata.annotations['checksum/policies']).toMatch(/^[a-f0-9]{64}$/);
  });

  it('PodDisruptionBudget keeps at least one ingest pod', () => {
    const pdb = byKind(objects, 'PodDisruptionBudget')[0]!;
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.selector.matchLabels).toEqual(named(objects, 'Deployment', 'rel-noctria-ingest').spec.selector.matchLabels);
  });

  it('NetworkPolicy: ingress from gateway and Prometheus only; egress to DNS, NATS, Postgres, Redis and the provider', () => {
    const np = byKind(objects, 'NetworkPolicy').find((o) => o.metadata.name === 'rel-noctria-ingest')!;
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toHaveLength(2);
    expect(np.spec.ingress[0].from[0].podSelector.matchLabels).toEqual({ 'app.kubernetes.io/component': 'gateway' });
    expect(np.spec.ingress[1].from[0].namespaceSelector.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'monitoring' });
    const ports = np.spec.egress.flatMap((r: { ports: Array<{ port: number }> }) => r.ports.map((p) => p.port));
    expect(ports).toEqual(expect.arrayContaining([53, 4222, 5432, 6379, 443]));
    expect(ports).not.toContain(4318); // no OTLP endpoint configured
    const provider = np.spec.egress.find((r: { ports: Array<{ port: number }> }) => r.ports.some((p) => p.port === 443));
    expect(provider.to[0].ipBlock.except).toContain('10.0.0.0/8');
  });

  it('disabling the NetworkPolicy removes them all', async () => {
    expect(byKind(await render(['--set', 'networkPolicy.enabled=false']), 'NetworkPolicy')).toEqual([]);
  });

  it('ServiceMonitor scrapes /metrics and labels every series service=<name>', () => {
    const sm = named(objects, 'ServiceMonitor', 'rel-noctria-ingest');
    expect(sm.metadata.labels!.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics', honorLabels: true });
    expect(sm.spec.endpoints[0].relabelings[0]).toMatchObject({ targetLabel: 'service', replacement: 'ingest' });
    expect(sm.spec.selector.matchLabels).toEqual(named(objects, 'Service', 'rel-noctria-ingest').spec.selector);
  });

  it('PrometheusRule renders deploy/prometheus/rules.yaml with the configured runbook base', async () => {
    const source = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'rules.yaml'), 'utf8')) as { groups: unknown[] };
    const rule = byKind(objects, 'PrometheusRule')[0]!;
    expect(rule.spec).toEqual(source);
    const base = 'https://wiki.example.org/noctria/runbooks/';
    const moved = byKind(await render([...MONITORING, '--set', `monitoring.runbookBaseUrl=${base}`]), 'PrometheusRule')[0]!;
    const urls = (moved.spec.groups as Array<{ rules: Array<{ annotations: { runbook_url: string } }> }>).flatMap((g) => g.rules.map((r) => r.annotations.runbook_url));
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u.startsWith(base)).toBe(true);
  });

  it('Grafana dashboards ConfigMap carries the sidecar label and the dashboard JSON', () => {
    const cm = byKind(objects, 'ConfigMap').find((o) => o.metadata.name === 'rel-noctria-dashboards')!;
    expect(cm.metadata.labels!.grafana_dashboard).toBe('1');
    expect(JSON.parse(cm.data!['data-pipeline.json']!)).toEqual(JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards', 'data-pipeline.json'), 'utf8')));
  });

  it('monitoring.enabled=false removes ServiceMonitor, PrometheusRule and dashboards', async () => {
    const off = await render([...MONITORING, '--set', 'monitoring.enabled=false']);
    expect(byKind(off, 'ServiceMonitor')).toEqual([]);
    expect(byKind(off, 'PrometheusRule')).toEqual([]);
    expect(byKind(off, 'ConfigMap').map((o) => o.metadata.name)).toEqual(['rel-noctria-policies']);
  });

  it('without the monitoring.coreos.com CRDs nothing of that group renders (unless requireCrds=false)', async () => {
    const none = await render();
    expect(none.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com'))).toEqual([]);
    const forced = await render(['--set', 'monitoring.requireCrds=false']);
    expect(byKind(forced, 'ServiceMonitor')).toHaveLength(Object.keys(values.services).length);
    expect(byKind(forced, 'PrometheusRule')).toHaveLength(1);
  });

  it('retention CronJob (on by default) runs the one-shot entry daily in UTC, never concurrently, with the service env', async () => {
    expect(byKind(await render(['--set', 'services.ingest.retention.enabled=false', '--set', 'services.features.retention.enabled=false']), 'CronJob')).toEqual([]);
    const cj = named(objects, 'CronJob', 'rel-noctria-ingest-retention');
    expect(container(cj).command).toEqual(['node', 'dist/services/ingest/src/retention.js']);
    expect(cj.spec.schedule).toBe('30 3 * * *');
    expect(cj.spec.timeZone).toBe('Etc/UTC');
    expect(cj.spec.concurrencyPolicy).toBe('Forbid');
    expect(envOf(container(cj), 'DATABASE_URL')?.valueFrom?.secretKeyRef).toBeDefined();
    expect(envOf(container(cj), 'NOCTRIA_CONFIG_DIR')).toBeDefined();
  });

  it('features retention CronJob runs its entry daily in UTC after ingest\'s, with the service env (beta-jump window included)', async () => {
    const cj = named(objects, 'CronJob', 'rel-noctria-features-retention');
    expect(container(cj).command).toEqual(['node', 'dist/services/features/src/retention.js']);
    expect(cj.spec.schedule).toBe('45 3 * * *');
    expect(cj.spec.timeZone).toBe('Etc/UTC');
    expect(cj.spec.concurrencyPolicy).toBe('Forbid');
    expect(cj.spec.jobTemplate.spec.template.metadata.labels['app.kubernetes.io/component']).toBe('retention');
    const c = container(cj);
    expect(envOf(c, 'DATABASE_URL')?.valueFrom?.secretKeyRef).toBeDefined();
    expect(envOf(c, 'NOCTRIA_CONFIG_DIR')).toBeDefined();
    // The retention keeps the jump rule's history: it must read the window the service runs with.
    expect(envOf(c, 'FEATURES_BETA_JUMP_WINDOW')?.value).toBe(envOf(container(named(objects, 'Deployment', 'rel-noctria-features')), 'FEATURES_BETA_JUMP_WINDOW')?.value);
    expect(byKind(await render(['--set', 'services.features.retention.enabled=false']), 'CronJob').map((o) => o.metadata.name)).toEqual(['rel-noctria-ingest-retention']);
  });

  it('pins the image by digest when given', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const o = await render(['--set', `global.image.digest=${digest}`]);
    expect(container(byKind(o, 'Deployment')[0]!).image).toBe(`ghcr.io/noctria/noctria@${digest}`);
    expect(container(byKind(o, 'Job')[0]!).image).toBe(`ghcr.io/noctria/noctria@${digest}`);
  });
});
