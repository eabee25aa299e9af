/**
 * A real single-node Slurm for tests, started on loopback by the test itself: munged with a
 * generated key and its own socket, slurmctld and slurmd (Debian's slurm-wlm) as background
 * processes with a generated slurm.conf (node at 127.0.0.1, non-default ports, linuxproc process
 * tracking, no task plugin, no accounting). Needs root; installs slurm-wlm and munge with apt-get
 * when they are missing and we are root. Everything is stopped and removed by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SlurmCluster {
  dir: string;
  conf: string;
  /** Environment for sbatch/squeue (SLURM_CONF). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const BINARIES = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo'];

function have(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: 'ignore' }).status === 0;
}

function binPath(bin: string): string {
  return fs.existsSync(`/usr/sbin/${bin}`) ? `/usr/sbin/${bin}` : bin;
}

/** Install slurm-wlm and munge if missing. Returns a reason when Slurm cannot be had. */
export function ensureSlurm(): string | undefined {
  if (BINARIES.every(have)) return process.getuid?.() === 0 ? undefined : 'not root: the test starts slurmctld/slurmd, which needs root';
  if (process.getuid?.() !== 0) return `slurm-wlm/munge are not installed and we are not root (run scripts/test.sh as root, or apt-get install slurm-wlm munge)`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = have('flock') ? ['flock', '/tmp/npm.lock'] : [];
  let r = spawnSync(lock[0] ?? 'apt-get', [...lock.slice(1), ...(lock.length ? ['apt-get'] : []), 'install', '-y', '-q', 'slurm-wlm', 'munge'], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { env, stdio: 'ignore' });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'slurm-wlm', 'munge'], { env, encoding: 'utf8' });
  }
  if (!BINARIES.every(have)) return `apt-get could not install slurm-wlm and munge: ${(r.stderr ?? '').slice(-300)}`;
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number, logs: string[]): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) {
      const tails = logs.map((f) => `--- ${f}\n${fs.existsSync(f) ? fs.readFileSync(f, 'utf8').slice(-1500) : '(missing)'}`).join('\n');
      throw new Error(`Slurm test cluster: ${what} did not happen within ${timeoutMs / 1000} s\n${tails}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startSlurm(): Promise<SlurmCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-slurm-'));
  fs.chmodSync(dir, 0o755); // munged's socket directory must be searchable by everyone
  for (const d of ['state', 'spool', 'log']) fs.mkdirSync(path.join(dir, d), { mode: 0o700 });
  const key = path.join(dir, 'munge.key');
  fs.writeFileSync(key, Buffer.from(Array.from({ length: 1024 }, () => Math.floor(Math.random() * 256))), { mode: 0o600 });
  const sock = path.join(dir, 'munge.sock');
  const procs: ChildProcess[] = [];
  const start = (bin: string, args: string[], log: string, env?: NodeJS.ProcessEnv) => {
    const fd = fs.openSync(path.join(dir, 'log', log), 'a');
    const p = spawn(binPath(bin), args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
    fs.closeSync(fd);
    procs.push(p);
    return p;
  };
  const host = os.hostname().split('.')[0];
  const conf = path.join(dir, 'slurm.conf');
  const env = { SLURM_CONF: conf };
  const stop = async () => {
    spawnSync('scancel', ['--full', '-u', 'root'], { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 10_000 });
    for (const p of procs.reverse()) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        const t0 = Date.now();
        while (p.exitCode === null && p.signalCode === null && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 100));
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    start('munged', ['-F', '-f', `--key-file=${key}`, `--socket=${sock}`, `--pid-file=${dir}/munged.pid`, `--log-file=${dir}/log/munged.log`, `--seed-file=${dir}/munged.seed`], 'munged.out');
    await waitFor('munged socket', () => fs.existsSync(sock), 15_000, [path.join(dir, 'log', 'munged.out')]);
    const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
    fs.writeFileSync(
      conf,
      [
        'ClusterName=gltest',
        `SlurmctldHost=${host}(127.0.0.1)`,
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        'SlurmUser=root',
        'SlurmdUser=root',
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${sock}`,
        `StateSaveLocation=${dir}/state`,
        `SlurmdSpoolDir=${dir}/spool`,
        `SlurmctldPidFile=${dir}/slurmctld.pid`,
        `SlurmdPidFile=${dir}/slurmd.pid`,
        `SlurmctldLogFile=${dir}/log/slurmctld.log`,
        `SlurmdLogFile=${dir}/log/slurmd.log`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/none',
        'MpiDefault=none',
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'ReturnToService=2',
        'SlurmctldTimeout=30',
        'SlurmdTimeout=30',
        'InactiveLimit=0',
        'MinJobAge=600',
        'KillWait=5',
        'Waittime=0',
        `NodeName=gnode NodeAddr=127.0.0.1 NodeHostname=${host} CPUs=${os.cpus().length} State=UNKNOWN`,
        'PartitionName=debug Nodes=gnode Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'),
    );
    const denv = { ...process.env, ...env };
    start('slurmctld', ['-D', '-i'], 'slurmctld.out', denv);
    start('slurmd', ['-D', '-N', 'gnode'], 'slurmd.out', denv);
    const logs = ['slurmctld.out', 'slurmd.out', 'slurmctld.log', 'slurmd.log'].map((f) => path.join(dir, 'log', f));
    await waitFor(
      'node gnode idle',
      () => /idle/.test(spawnSync('sinfo', ['-h', '-N', '-o', '%T'], { env: denv, encoding: 'utf8', timeout: 5000 }).stdout ?? ''),
      45_000,
      logs,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, conf, env, stop };
}
