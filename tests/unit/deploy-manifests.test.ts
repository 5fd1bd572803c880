import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { describeSettings, loadConfig } from "../../src/config.ts";

/**
 * deploy/ (the image, docker-compose.yml, kubernetes/) kept in step with the
 * gateway: the variables it sets are ones Loupe reads, with values it accepts;
 * probes, drain and per-replica volumes are wired the way the README says.
 * Nothing here runs Docker or a cluster; it reads the files.
 */
const ROOT = join(import.meta.dir, "..", "..");
const DEPLOY = join(ROOT, "deploy");
const KUBERNETES = join(DEPLOY, "kubernetes");

const READ = new Set([...describeSettings().map((s) => s.env), "LOUPE_CONFIG"]);
const SECRET_NAMES = ["LOUPE_SECRET", "LOUPE_ADMIN_TOKEN", "LOUPE_CLICKHOUSE_PASSWORD"];

type Labels = Record<string, string>;
interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: { memory?: string }; limits?: { memory?: string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface K8sObject {
  kind: string;
  metadata: { name: string; labels?: Labels };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    serviceName?: string;
    clusterIP?: string;
    selector?: Labels & { matchLabels?: Labels };
    ports?: { port: number; targetPort?: string | number }[];
    template?: { metadata: { labels: Labels }; spec: { containers: Container[]; terminationGracePeriodSeconds?: number; volumes?: { name: string; emptyDir?: unknown; ephemeral?: unknown }[] } };
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
}
interface ComposeService {
  image?: string;
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string> | string[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test: unknown };
  stop_grace_period?: string;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function parseYaml(path: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(path, "utf8"));
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) if (document.errors.length > 0) throw new Error(`${relative(ROOT, path)}: ${document.errors.map((e) => e.message).join("; ")}`);
  return list.map((document) => document.toJS() as unknown).filter((value) => value !== null);
}

const files = filesUnder(DEPLOY);
const yamlFiles = files.filter((path) => /\.ya?ml$/.test(path));
const manifests = yamlFiles.filter((path) => path.startsWith(KUBERNETES) && basename(path) !== "kustomization.yaml").flatMap((path) => parseYaml(path) as K8sObject[]);
const ofKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const compose = parseYaml(join(DEPLOY, "docker-compose.yml"))[0] as { services: Record<string, ComposeService> };

const workloads = manifests.filter((m) => m.kind === "StatefulSet" || m.kind === "Deployment");
const workload = workloads[0]!;
const pod = workload.spec!.template!;
const gateway = pod.spec.containers.find((c) => c.name === "loupe")!;
const configMap = ofKind("ConfigMap")[0]!;
const secret = ofKind("Secret")[0]!;

/** Compose durations ("330s", "5m30s") in seconds. */
function seconds(duration: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!match || duration === "") throw new Error(`not a duration: ${duration}`);
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

/** A configuration as the gateway would load it. */
function load(env: Record<string, string>) {
  return loadConfig({ env });
}

const subset = (small: Labels, large: Labels) => Object.entries(small).every(([key, value]) => large[key] === value);

describe("deploy/: every file parses, every variable is one Loupe reads", () => {
  test("every YAML file parses", () => {
    expect(yamlFiles.map((path) => relative(DEPLOY, path)).sort()).toContain("docker-compose.yml");
    for (const path of yamlFiles) expect(() => parseYaml(path)).not.toThrow();
  });

  test("every LOUPE_* name in deploy/ is a setting of src/config.ts", () => {
    const unknown: string[] = [];
    for (const path of files) {
      for (const [name] of readFileSync(path, "utf8").matchAll(/\bLOUPE_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (!READ.has(name)) unknown.push(`${relative(ROOT, path)}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
  });
});

describe("deploy/kubernetes", () => {
  test("kustomization.yaml lists every manifest in the folder, and its image is the container's", () => {
    const kustomization = parseYaml(join(KUBERNETES, "kustomization.yaml"))[0] as { resources: string[]; images?: { name: string }[] };
    const onDisk = readdirSync(KUBERNETES).filter((name) => /\.ya?ml$/.test(name) && name !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(onDisk.sort());
    expect(kustomization.images?.map((image) => image.name)).toContain(gateway.image.split(":")[0]!);
  });

  test("one gateway workload; the ConfigMap and Secret it reads are a configuration Loupe accepts", () => {
    expect(workloads.map((w) => w.metadata.name)).toEqual(["loupe"]);
    expect(gateway.envFrom?.map((source) => source.configMapRef?.name ?? source.secretRef?.name)).toEqual([configMap.metadata.name, secret.metadata.name]);
    expect(Object.keys(secret.stringData ?? secret.data ?? {}).sort()).toEqual([...SECRET_NAMES].sort());
    expect(Object.keys(configMap.data ?? {}).filter((name) => SECRET_NAMES.includes(name) || /SECRET|TOKEN|PASSWORD/.test(name))).toEqual([]);
    const config = load({ ...configMap.data, ...secret.stringData });
    expect(config.server.host).toBe("0.0.0.0");
  });

  test("readiness on /health, liveness on a route that stays 200 when ClickHouse or Redis is down, a preStop hook, time to drain", () => {
    const portNames = new Set((gateway.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
    expect(gateway.readinessProbe?.httpGet?.path).toBe("/health");
    expect(["/health", "/livez"]).toContain(gateway.livenessProbe?.httpGet?.path ?? "");
    for (const probe of [gateway.readinessProbe, gateway.livenessProbe, gateway.startupProbe]) if (probe) expect(portNames.has(probe.httpGet?.port)).toBe(true);
    const preStop = gateway.lifecycle?.preStop;
    expect(preStop).toBeDefined();
    const pause = preStop?.sleep?.seconds ?? Number(preStop?.exec?.command.at(-1) ?? 0);
    const drainS = load({ ...configMap.data }).limits.drainTimeoutMs / 1000;
    expect(pod.spec.terminationGracePeriodSeconds ?? 30).toBeGreaterThan(pause + drainS);
    expect(gateway.resources?.requests?.memory).toBeDefined();
    expect(gateway.resources?.limits?.memory).toBeDefined();
  });

  test("the journal is on a volume of each pod's own, where LOUPE_DB puts it", () => {
    const dataDir = dirname(load({ ...configMap.data }).db);
    const mount = gateway.volumeMounts?.find((m) => m.mountPath === dataDir);
    expect(mount).toBeDefined();
    const claims = (workload.spec!.volumeClaimTemplates ?? []).map((claim) => claim.metadata.name);
    const podVolume = pod.spec.volumes?.find((volume) => volume.name === mount!.name);
    // A claim per pod (StatefulSet), or a volume that lives and dies with the pod; never one claim shared by all.
    expect(claims.includes(mount!.name) || podVolume?.ephemeral !== undefined || podVolume?.emptyDir !== undefined).toBe(true);
  });

  test("the PodDisruptionBudget and the Services select the gateway's pods", () => {
    const selector = workload.spec!.selector!.matchLabels!;
    expect(subset(selector, pod.metadata.labels)).toBe(true);
    const budgets = ofKind("PodDisruptionBudget");
    expect(budgets.length).toBe(1);
    expect(budgets[0]!.spec!.selector!.matchLabels).toEqual(selector);
    const services = ofKind("Service");
    expect(services.map((s) => s.metadata.name)).toContain("loupe");
    const targets = new Set((gateway.ports ?? []).flatMap((p) => [p.name, p.containerPort]));
    for (const service of services) {
      const { matchLabels: _, ...labels } = service.spec!.selector!;
      expect(Object.keys(labels).length).toBeGreaterThan(0);
      expect(subset(labels, pod.metadata.labels)).toBe(true);
      for (const port of service.spec!.ports!) expect(targets.has(port.targetPort ?? port.port)).toBe(true);
    }
    if (workload.kind === "StatefulSet") {
      const governing = services.find((s) => s.metadata.name === workload.spec!.serviceName);
      expect(governing?.spec?.clusterIP).toBe("None");
    }
  });
});

describe("deploy/docker-compose.yml", () => {
  const services = compose.services;
  const loupe = services.loupe!;
  const environment = Array.isArray(loupe.environment)
    ? Object.fromEntries(loupe.environment.map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]))
    : (loupe.environment ?? {});
  // `${LOUPE_SECRET:?…}` is the operator's value; any valid one stands in for it here.
  const env = Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, String(value).replace(/\$\{[^}]*\}/g, "a-placeholder-of-32-characters!!")]));

  test("a load balancer, ClickHouse, Redis and a collector beside the gateways; loupe waits for ClickHouse and Redis to be healthy", () => {
    expect(Object.keys(services).sort()).toEqual(["clickhouse", "loupe", "nginx", "otel-collector", "redis"]);
    const dependsOn = loupe.depends_on ?? [];
    const needs = Array.isArray(dependsOn) ? dependsOn : Object.keys(dependsOn);
    expect(needs).toContain("clickhouse");
    expect(needs).toContain("redis");
    if (!Array.isArray(dependsOn)) for (const name of ["clickhouse", "redis"]) expect(dependsOn[name]?.condition).toBe("service_healthy");
    expect(services.clickhouse!.healthcheck).toBeDefined();
    expect(services.redis!.healthcheck).toBeDefined();
  });

  test("its environment is a configuration Loupe accepts, pointing at the services of this file", () => {
    const config = load(env);
    expect(config.server.host).toBe("0.0.0.0");
    expect(new URL(env.LOUPE_REDIS_URL!).hostname).toBe("redis");
    expect(new URL(env.LOUPE_CLICKHOUSE_URL!).hostname).toBe("clickhouse");
    expect(new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!).hostname).toBe("otel-collector");
    expect(seconds(loupe.stop_grace_period ?? "10s")).toBeGreaterThan(config.limits.drainTimeoutMs / 1000);
  });

  test("scalable: no fixed name or host port, and a volume of each replica's own where LOUPE_DB puts the journal", () => {
    expect(loupe.container_name).toBeUndefined();
    expect(loupe.ports).toBeUndefined();
    const dataDir = dirname(load(env).db);
    // Without a source, a volume is made per container: shared named volumes would put every replica on one journal.
    const perReplica = (loupe.volumes ?? []).find((v) => (typeof v === "string" ? v === dataDir : v.type === "volume" && v.target === dataDir && v.source === undefined));
    expect(perReplica).toBeDefined();
  });

  test("nginx passes streams unbuffered to the replicas, with read timeouts longer than Claude Code's 300 s", () => {
    const mounts = (services.nginx!.volumes ?? []).map((v) => (typeof v === "string" ? v.split(":")[0]! : (v.source ?? "")));
    const confPath = mounts.map((m) => join(DEPLOY, m)).find((path) => path.endsWith(".conf") && existsSync(path));
    expect(confPath).toBeDefined();
    const conf = readFileSync(confPath!, "utf8").replace(/#.*$/gm, "");
    expect(conf).toMatch(/\bproxy_buffering\s+off\s*;/);
    expect(conf).toMatch(/\bproxy_http_version\s+1\.1\s*;/);
    expect(Number(/\bproxy_read_timeout\s+(\d+)s?\s*;/.exec(conf)?.[1] ?? 60)).toBeGreaterThan(300);
    expect(conf).toContain(`server loupe:${load(env).server.port}`);
  });

  test("the collector receives OTLP over HTTP where the gateways send it", () => {
    const mounted = (services["otel-collector"]!.volumes ?? []).map((v) => (typeof v === "string" ? v.split(":")[0]! : (v.source ?? "")));
    const path = join(DEPLOY, mounted.find((m) => /\.ya?ml$/.test(m))!);
    const collector = parseYaml(path)[0] as { receivers: { otlp?: { protocols?: { http?: { endpoint?: string } } } }; service: { pipelines: Record<string, { receivers: string[] }> } };
    const endpoint = collector.receivers.otlp?.protocols?.http?.endpoint ?? "";
    expect(endpoint.split(":").at(-1)).toBe(new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT!).port);
    expect(collector.service.pipelines.traces?.receivers).toContain("otlp");
  });
});

describe("deploy/Dockerfile", () => {
  const dockerfile = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");

  test("a non-root user, the gateway's port, a health check on /health", () => {
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)$/);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE\\s+${gateway.ports![0]!.containerPort}\\b`, "m"));
    expect(dockerfile).toMatch(/^HEALTHCHECK[\s\S]*\/health/m);
  });
});
