/**
 * Interrupts in the installed groundlab kernel, driven by the real jupyter_client: an async loop
 * that watches interruptSignal() (interrupt_request message), a synchronous loop (SIGINT), and a
 * real `tiny` training run (SIGINT, as JupyterLab's stop button): it stops at its next step and
 * saves a checkpoint, and the kernel and earlier variables stay alive.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installKernel, jupyterMissing, runDriver, streamText, tempDir, type ExecResult } from './helpers';

const missing = jupyterMissing();
let r: Record<string, any> = {};

before(() => {
  if (missing) return;
  installKernel();
  r = runDriver('interrupt', tempDir('groundlab-kernel-int-'));
  assert.equal(r.__status, 0, `driver failed:\n${r.__log}`);
});

const kt = (name: string, fn: () => void) => test(name, { skip: missing }, fn);

kt('interrupt_request is answered, and an async loop watching interruptSignal() stops cleanly', () => {
  assert.equal(r.interrupt_reply.type, 'interrupt_reply');
  assert.equal(r.interrupt_reply.content.status, 'ok');
  const x: ExecResult = r.async_loop;
  assert.match(streamText(x), /stopped cleanly after/, 'the loop saw the signal and ran its cleanup line');
  assert.equal(x.reply.status, 'error');
  assert.equal(x.reply.ename, 'Interrupted');
  assert.equal(r.after_async.iopub.find((m: any) => m.type === 'execute_result').content.data['text/plain'], 'true');
});

kt('SIGINT stops a synchronous loop and keeps the kernel and earlier variables', () => {
  const x: ExecResult = r.sync_loop;
  assert.equal(x.reply.status, 'error');
  assert.equal(x.reply.ename, 'Interrupted');
  assert.equal(r.after_sync.reply.status, 'ok');
  assert.equal(r.after_sync.iopub.find((m: any) => m.type === 'execute_result').content.data['text/plain'], '43');
});

kt('interrupting training stops at the next step, saves a checkpoint, and keeps variables', () => {
  const x: ExecResult = r.train;
  assert.equal(x.reply.ename, 'Interrupted');
  // One progress output updated in place: a display_data then update_display_data with the same id.
  const shown = x.iopub.filter((m) => m.type === 'display_data');
  const updates = x.iopub.filter((m) => m.type === 'update_display_data');
  assert.equal(shown.length, 1, 'one progress output');
  assert.ok(updates.length >= 2, 'updated in place');
  const id = shown[0].content.transient.display_id;
  assert.ok(updates.every((m) => m.content.transient.display_id === id));
  assert.match(updates[0].content.data['text/plain'], /^train\s+\d+\/100000.*loss \d+\.\d+.*tok\/s.*ETA/);
  assert.match(updates[0].content.data['text/html'], /groundlab-progress/);
  const lastStep = Math.max(...[...shown, ...updates].map((m) => Number(/(\d+)\/100000/.exec(m.content.data['text/plain'])![1])));
  // The run's checkpoint exists afterwards, at or past the last step the progress showed.
  const after: ExecResult = r.after_train;
  assert.equal(after.reply.status, 'ok', JSON.stringify(after.reply));
  const seen = JSON.parse(streamText(after).trim());
  assert.equal(seen.status, 'aborted');
  assert.equal(seen.answer, 42);
  assert.equal(seen.laps, true);
  const last = Math.max(...seen.steps);
  assert.ok(last >= lastStep && last < 100000, `last checkpoint ${last}, progress showed ${lastStep}`);
  const dir = path.join(r.run_dir, 'checkpoints', `step-${String(last).padStart(6, '0')}`);
  assert.ok(fs.existsSync(dir), `${dir} exists`);
  assert.ok(fs.readdirSync(dir).some((f) => f.endsWith('.safetensors')));
  assert.ok(r.timings.training_interrupted - r.timings.training_running < 20, 'stopped promptly');
});

kt('stopping evalRun reads like stopping train, and its progress bar says where it stopped', () => {
  const x: ExecResult = r.eval_stopped;
  assert.equal(x.reply.status, 'error');
  assert.equal(x.reply.ename, 'Interrupted', JSON.stringify(x.reply));
  assert.match(x.reply.evalue!, /^the running job stopped at its next step \((analysis|scoring) was stopped.*\)$/);
  assert.match(x.reply.traceback!.join('\n'), /the kernel and its variables are kept/);
  assert.doesNotMatch(x.reply.traceback!.join('\n'), /GroundlabError|ABORTED/);
  const bars = x.iopub.filter((m) => m.type === 'display_data' || m.type === 'update_display_data');
  const last = bars[bars.length - 1].content.data;
  assert.match(last['text/plain'], /^analyze +\d+\/\d+ +\d+% +stopped \(interrupted\): what it finished is kept/);
  assert.match(last['text/html'], /groundlab-progress-stopped/);
  assert.ok(x.iopub.findIndex((m) => m === bars[bars.length - 1]) < x.iopub.findIndex((m) => m.type === 'error'), 'the bar is updated before the error');
  assert.equal(r.after_eval.iopub.find((m: any) => m.type === 'execute_result').content.data['text/plain'], '42');
});

kt('shutting the kernel down during training saves a checkpoint at the step reached first', () => {
  assert.equal(r.shutdown_during_train.type, 'shutdown_reply');
  assert.equal(r.alive_after_shutdown, false);
  const shown = Math.max(...(r.shutdown_progress as string[]).map((t) => Number(/(\d+)\/100000/.exec(t)![1])));
  const saved = (r.checkpoints_after_shutdown as string[]).map((d) => Number(d.replace('step-', '')));
  assert.ok(Math.max(...saved) >= shown, `checkpoints ${saved.join(',')}, progress showed ${shown}`);
});
