// The one resolver of the Temporal connection (lib/env.ts resolveTemporalConnection): an envconfig
// profile, TEMPORAL_* env vars over it, the local stack's address when nothing is set (issue 17).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveTemporalConnection } from '../../lib/env';
import { connectionOptions } from '../../lib/temporal';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mmedpo-envconfig-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const cert = write('client.pem', '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
const key = write('client.key', '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
const ca = write('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');
const profiles = write(
  'temporal.toml',
  `[profile.default]
address = "127.0.0.1:7299"

[profile.cloud-mtls]
address = "prod.a1b2c.tmprl.cloud:7233"
namespace = "prod.a1b2c"
[profile.cloud-mtls.tls]
client_cert_path = "${cert}"
client_key_path = "${key}"
server_ca_cert_path = "${ca}"
server_name = "prod.a1b2c.tmprl.cloud"

[profile.cloud-key]
address = "us-east-1.aws.api.temporal.io:7233"
namespace = "prod.a1b2c"
api_key = "test-api-key-not-a-secret"
[profile.cloud-key.grpc_meta]
x-tenant = "mmedpo"
`,
);
// No developer file (~/.config/temporalio/temporal.toml) may leak in: every case names its file or HOME.
const base = { HOME: dir };

describe('resolveTemporalConnection', () => {
  it('nothing configured: the local stack address, else 127.0.0.1:7233, namespace default, plaintext', () => {
    expect(resolveTemporalConnection(base, '127.0.0.1:40001')).toEqual({ address: '127.0.0.1:40001', namespace: 'default', source: 'the local stack' });
    expect(resolveTemporalConnection(base)).toEqual({ address: '127.0.0.1:7233', namespace: 'default', source: 'the default address' });
  });

  it('mTLS profile: address, namespace, the client pair, CA and server name read from their files', () => {
    const t = resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'cloud-mtls' }, '127.0.0.1:40001');
    expect(t).toMatchObject({ address: 'prod.a1b2c.tmprl.cloud:7233', namespace: 'prod.a1b2c', source: `profile "cloud-mtls" of ${profiles}` });
    expect(t.apiKey).toBeUndefined();
    const tls = t.tls as { clientCertPair: { crt: Uint8Array; key: Uint8Array }; serverRootCACertificate: Uint8Array; serverNameOverride: string };
    expect(Buffer.from(tls.clientCertPair.crt).toString()).toBe(fs.readFileSync(cert, 'utf8'));
    expect(Buffer.from(tls.clientCertPair.key).toString()).toBe(fs.readFileSync(key, 'utf8'));
    expect(Buffer.from(tls.serverRootCACertificate).toString()).toBe(fs.readFileSync(ca, 'utf8'));
    expect(tls.serverNameOverride).toBe('prod.a1b2c.tmprl.cloud');
    // What Connection.connect / NativeConnection.connect get: the same fields, nothing dropped.
    expect(connectionOptions(t)).toEqual({ address: t.address, tls: t.tls });
  });

  it('API-key profile: the key, TLS on (implied), gRPC metadata', () => {
    const t = resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'cloud-key' });
    expect(t).toMatchObject({ address: 'us-east-1.aws.api.temporal.io:7233', namespace: 'prod.a1b2c', apiKey: 'test-api-key-not-a-secret', tls: true, metadata: { 'x-tenant': 'mmedpo' } });
    expect(connectionOptions(t)).toEqual({ address: t.address, tls: true, apiKey: 'test-api-key-not-a-secret', metadata: { 'x-tenant': 'mmedpo' } });
  });

  it('TEMPORAL_* env vars override the profile field by field', () => {
    const t = resolveTemporalConnection({
      ...base,
      TEMPORAL_CONFIG_FILE: profiles,
      TEMPORAL_PROFILE: 'cloud-key',
      TEMPORAL_ADDRESS: '127.0.0.1:7300',
      TEMPORAL_NAMESPACE: 'staging',
      TEMPORAL_API_KEY: 'other-key',
    });
    expect(t).toMatchObject({ address: '127.0.0.1:7300', namespace: 'staging', apiKey: 'other-key', source: 'TEMPORAL_ADDRESS' });
    // TLS from env alone, no file at all; TEMPORAL_TLS=false turns it off against an API key's implied TLS.
    const envOnly = resolveTemporalConnection({ ...base, TEMPORAL_ADDRESS: 'h:1', TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key });
    expect((envOnly.tls as { clientCertPair?: unknown }).clientCertPair).toBeDefined();
    expect(resolveTemporalConnection({ ...base, TEMPORAL_ADDRESS: 'h:1', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).tls).toBe(false);
  });

  it('the default profile of TEMPORAL_CONFIG_FILE applies without TEMPORAL_PROFILE', () => {
    expect(resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: profiles }, '127.0.0.1:40001')).toMatchObject({ address: '127.0.0.1:7299', source: `the default profile of ${profiles}` });
  });

  it('a mistake is an error naming it, never a silent fallback to the local stack', () => {
    const missing = path.join(dir, 'nope.toml');
    expect(() => resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: missing })).toThrow(`TEMPORAL_CONFIG_FILE=${missing} does not exist`);
    expect(() => resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'prdo' })).toThrow(/profile "prdo" of .*temporal\.toml.*Profile 'prdo' not found/);
    const typo = write('typo.toml', '[profile.default]\naddres = "h:1"\n');
    expect(() => resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: typo })).toThrow(/unrecognized in profile\.default: addres/);
    const noCert = write('nocert.toml', `[profile.default]\naddress = "h:1"\n[profile.default.tls]\nclient_cert_path = "${path.join(dir, 'gone.pem')}"\nclient_key_path = "${key}"\n`);
    expect(() => resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: noCert })).toThrow(/gone\.pem/);
    const empty = write('empty.toml', '# nothing yet\n');
    expect(() => resolveTemporalConnection({ ...base, TEMPORAL_CONFIG_FILE: empty })).toThrow(/empty\.toml\): the file has no \[profile\.NAME\] table/);
    expect(() => resolveTemporalConnection({ ...base, MMEDPO_TEMPORAL_ADDRESS: 'h:1' })).toThrow('MMEDPO_TEMPORAL_ADDRESS is no longer read: set TEMPORAL_ADDRESS');
  });
});
