// Opens N idle PeerJS client sockets against a PeerJS server (npm `peer`) the way the PeerJS client
// library does (`ws://…/peerjs?key=peerjs&id=…&token=…`), waits for each to get `OPEN`, prints
// READY, then holds them until standard input closes. For tests/bench/signal.sh, which reads the
// server's RSS beside Wardline's under the same number of sockets.
// Usage: node sockets.mjs ws://127.0.0.1:PORT N
import { WebSocket } from 'ws';

const [base, countArg] = process.argv.slice(2);
const n = Number(countArg || 10000);
const open = [];
const started = Date.now();

function one(i) {
  return new Promise((resolve, reject) => {
    const id = `bench-${i}`;
    const token = Math.random().toString(36).slice(2);
    const ws = new WebSocket(`${base}/peerjs?key=peerjs&id=${id}&token=${token}`);
    const timer = setTimeout(() => reject(new Error(`socket ${i}: no OPEN within 30 s`)), 30000);
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.type === 'OPEN') {
        clearTimeout(timer);
        resolve(ws);
      }
    });
    ws.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

// A few hundred handshakes in flight at once, like signal_bench's client.
let next = 0;
async function worker() {
  while (next < n) {
    const i = next++;
    open.push(await one(i));
  }
}
await Promise.all(Array.from({ length: 200 }, worker));
console.log(`${open.length} sockets open in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log('READY');
process.stdin.resume();
process.stdin.on('end', () => {
  for (const ws of open) ws.terminate();
  process.exit(0);
});
