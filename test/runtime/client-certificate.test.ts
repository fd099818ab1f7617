import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadKubeEndpoint } from '../../operator/runtime/kube-endpoint.ts';
import { KubeHttp } from '../../operator/runtime/kube-http.ts';
import { FakeClock } from '../support/fake-clock.ts';

/**
 * A kubeconfig's client certificate replaced on disk, as cert-manager or a renewal job does, is the one
 * the client presents once it reads its credentials again (every 30 s, on a fake clock here), without a
 * restart. The API server names the user of each certificate (SelfSubjectReview), which tells which one
 * was presented. The certificates are issued by the test control plane's own CA.
 */

const runDir = inject('clusterRunDir');

describe.skipIf(!runDir)('A client certificate rotated on disk', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'client-cert-'));
  const pki = path.join(runDir, 'pki');

  /** Writes a certificate and key for `user` (a cluster admin), replacing client.crt and client.key. */
  function issue(user: string) {
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    const file = (name: string) => path.join(folder, name);
    openssl(
      ...['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/O=system:masters/CN=${user}`],
      ...['-keyout', file('next.key'), '-out', file('next.csr')],
    );
    writeFileSync(file('next.ext'), 'extendedKeyUsage=clientAuth\n');
    openssl(
      ...['x509', '-req', '-in', file('next.csr'), '-days', '1', '-extfile', file('next.ext')],
      ...[
        '-CA',
        path.join(pki, 'ca.crt'),
        '-CAkey',
        path.join(pki, 'ca.key'),
        '-set_serial',
        `${Date.now()}`,
      ],
      ...['-out', file('next.crt')],
    );
    renameSync(file('next.key'), file('client.key'));
    renameSync(file('next.crt'), file('client.crt'));
  }

  function kubeconfig(): string {
    const doc = parse(readFileSync(inject('kubeconfig'), 'utf8'));
    for (const { user } of doc.users) {
      for (const field of Object.keys(user)) delete user[field];
      Object.assign(user, { 'client-certificate': 'client.crt', 'client-key': 'client.key' });
    }
    const file = path.join(folder, 'kubeconfig');
    writeFileSync(file, stringify(doc));
    return file;
  }

  async function whoAmI(kube: KubeHttp): Promise<string | undefined> {
    const review = await kube.post<{ status?: { userInfo?: { username?: string } } }>(
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    );
    return review.status?.userInfo?.username;
  }

  it('is presented from the next reading of the credentials on', async () => {
    issue('first-holder');
    const clock = new FakeClock();
    const kube = new KubeHttp(loadKubeEndpoint({ kubeconfig: kubeconfig() }), { connections: null, clock });
    try {
      expect(await whoAmI(kube)).toBe('first-holder');
      issue('second-holder');
      await clock.advance(30_000);
      expect(await whoAmI(kube)).toBe('second-holder');
    } finally {
      await kube.close();
    }
  });
});
