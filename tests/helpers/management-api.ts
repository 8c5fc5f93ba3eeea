// A local stand-in for the Supabase Management API (api.supabase.com) on 127.0.0.1: it answers
// the calls `supabase functions deploy --use-api` and `supabase secrets set` make, and keeps what
// they send — every function's metadata and uploaded files, every secret — so a test can rebuild
// the functions from exactly what hosted Supabase would receive. Any other call is answered 404
// and kept in `unexpected`, so a test notices when the CLI starts needing more.
//
// The shapes are the CLI's (supabase/cli pkg/function/deploy.go, 2.117.0): POST
// /v1/projects/{ref}/functions/deploy?slug=<slug>[&bundleOnly=true] with a multipart body (a
// `metadata` JSON field and one `file` part per uploaded file, named by its path relative to the
// project root) answered 201; with more than one function, PUT /v1/projects/{ref}/functions (bulk
// update) answered 200.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

export interface DeployMetadata {
  name?: string;
  entrypoint_path: string;
  import_map_path?: string;
  static_patterns?: string[];
  verify_jwt?: boolean;
}

export interface Deployment {
  slug: string;
  metadata: DeployMetadata;
  /** path relative to the project root → content, in upload order */
  files: Map<string, string>;
}

export interface ManagementApi {
  url: string;
  ref: string;
  token: string;
  /** SUPABASE_PROFILE: a YAML profile naming this server as the API (the CLI ignores SUPABASE_API_URL). */
  profile: string;
  /** Env for a CLI child process: the profile, the token, a SUPABASE_HOME of its own, no telemetry. */
  env: Record<string, string>;
  deployments: Map<string, Deployment>;
  bulkUpdates: unknown[];
  secrets: Map<string, string>;
  unexpected: string[];
  stop: () => Promise<void>;
}

// A well-formed personal access token (the CLI checks the format, not the value).
const TOKEN = `sbp_${'0'.repeat(40)}`;

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export async function startManagementApi(ref = 'stagegatedeploycheck'): Promise<ManagementApi> {
  const deployments = new Map<string, Deployment>();
  const bulkUpdates: unknown[] = [];
  const secrets = new Map<string, string>();
  const unexpected: string[] = [];
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-supabase-home-'));
  let version = 0;

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = await readBody(req);
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(res, 401, { message: 'Unauthorized' });
      const base = `/v1/projects/${ref}`;
      const route = `${req.method} ${url.pathname}`;
      if (route === `POST ${base}/functions/deploy`) {
        const slug = url.searchParams.get('slug') ?? '';
        // undici (Node's fetch) parses the multipart body; no hand-written parser.
        const form = await new Request('http://127.0.0.1/', {
          method: 'POST',
          headers: { 'content-type': req.headers['content-type'] ?? '' },
          body: new Uint8Array(body),
        }).formData();
        const files = new Map<string, string>();
        for (const [name, value] of form.entries()) {
          if (name === 'file' && typeof value !== 'string') files.set(value.name, await value.text());
        }
        const raw = form.get('metadata');
        const metadata = JSON.parse(typeof raw === 'string' ? raw : '{}') as DeployMetadata;
        deployments.set(slug, { slug, metadata, files });
        version += 1;
        const now = Date.now();
        return send(res, 201, {
          id: `00000000-0000-4000-8000-${String(version).padStart(12, '0')}`,
          slug, name: metadata.name ?? slug, version, status: 'ACTIVE',
          entrypoint_path: metadata.entrypoint_path, import_map_path: metadata.import_map_path,
          import_map: Boolean(metadata.import_map_path), verify_jwt: metadata.verify_jwt ?? true,
          created_at: now, updated_at: now,
        });
      }
      if (route === `PUT ${base}/functions`) {
        const functions = JSON.parse(body.toString('utf8')) as unknown[];
        bulkUpdates.push(functions);
        return send(res, 200, { functions });
      }
      if (route === `GET ${base}/functions`) return send(res, 200, []);
      if (route === `POST ${base}/secrets`) {
        for (const s of JSON.parse(body.toString('utf8')) as { name: string; value: string }[]) secrets.set(s.name, s.value);
        return send(res, 201, {});
      }
      if (route === `GET ${base}/secrets`) return send(res, 200, [...secrets.keys()].map((name) => ({ name, value: '' })));
      if (route === `GET ${base}`) {
        return send(res, 200, {
          id: ref, ref, name: 'stagegate', organization_id: 'stagegate', organization_slug: 'stagegate',
          region: 'local', status: 'ACTIVE_HEALTHY', created_at: new Date(0).toISOString(),
          database: { host: '127.0.0.1', version: '17', postgres_engine: '17', release_channel: 'ga' },
        });
      }
      unexpected.push(route);
      return send(res, 404, { message: `the stand-in does not know ${route}` });
    })().catch((err: unknown) => {
      unexpected.push(`${req.method} ${req.url}: ${String(err)}`);
      if (!res.headersSent) send(res, 500, { message: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  const profile = path.join(home, 'profile.yaml');
  fs.writeFileSync(profile, [
    'name: stagegate-stand-in',
    `api_url: ${url}`,
    `dashboard_url: ${url}/dashboard`,
    'project_host: stand-in.localhost',
    '',
  ].join('\n'));
  return {
    url, ref, token: TOKEN, profile,
    env: {
      SUPABASE_PROFILE: profile,
      SUPABASE_ACCESS_TOKEN: TOKEN,
      SUPABASE_HOME: home,
      SUPABASE_TELEMETRY_DISABLED: '1',
      DO_NOT_TRACK: '1',
    },
    deployments, bulkUpdates, secrets, unexpected,
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
