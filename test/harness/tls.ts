import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Paths of a PEM certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** A throwaway CA and certificates made with openssl in `dir`. */
export interface TestPki {
  ca: string;
  server: CertFiles;
  client(name: string): CertFiles;
}

const openssl = (args: string[]): void => {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

/**
 * Makes a CA, a server certificate for 127.0.0.1/localhost and, on demand, client certificates,
 * all signed by the CA (EC P-256 keys: fast to make).
 */
export function makePki(dir: string): TestPki {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKey]);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-sha256',
    '-days',
    '2',
    '-subj',
    '/CN=dspex test CA',
    '-out',
    ca,
  ]);
  const issue = (name: string, ext: string): CertFiles => {
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.pem`);
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
    openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      extFile,
      '-out',
      cert,
    ]);
    return { cert, key };
  };
  const server = issue(
    'server',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n',
  );
  return {
    ca,
    server,
    client: (name) => issue(name, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n'),
  };
}
