// Civic's own Node SDK (civic-sip-api, pinned in package.json) exchanging SIP auth codes against the
// sandbox, for row 3 of django_civic's benchmark (bench/sip_exchange_cpu.py drives it).
//
// Takes its configuration as a JSON argument: {api, env, appId, appSecret, prvKey, civicPublicKey}.
// Prints {"ready": true, "startup_cpu_us": N} when loaded. Then each stdin line is a JSON list of
// auth codes: it exchanges them one after the other, as a server handling logins does, and prints
// {"cpu_us": N, "exchanges": M} (this process's CPU, user + system, every thread, around the batch:
// process.cpuUsage(), so its start-up is never counted).
//
// The SDK verifies Civic's data token with Civic's production key, written into the SDK (it takes no
// other); the sandbox signs with its own documented key (django_civic/core/sandbox_credentials.py), so
// that key is handed to the SDK's own verify function in place of the production one: same work.
'use strict';

const startup = process.cpuUsage();
const readline = require('readline');
const jwt = require('civic-sip-api/lib/jwt');
const civicSip = require('civic-sip-api');

const PRODUCTION_KEY = '049a45998638cfb3c4b211d72030d9ae8329a242db63bfb0076a54e7647370a8ac5708b57af6065805d5a6be72332620932dbb35e8d318fce18e7c980a0eb26aa1';

const config = JSON.parse(process.argv[2]);
const cpuMicros = (usage) => usage.user + usage.system;

async function main() {
  const lines = readline.createInterface({ input: process.stdin, terminal: false })[Symbol.asyncIterator]();
  const verify = jwt.verify;
  jwt.verify = (token, pubhex, acceptable) => verify(
    token, pubhex === PRODUCTION_KEY ? config.civicPublicKey : pubhex, acceptable);
  const client = civicSip.newClient({
    appId: config.appId, appSecret: config.appSecret, prvKey: config.prvKey, env: config.env, api: config.api,
  });
  process.stdout.write(`${JSON.stringify({ ready: true, startup_cpu_us: cpuMicros(process.cpuUsage(startup)) })}\n`);
  for (;;) {
    const { value, done } = await lines.next();
    if (done) return;
    const codes = JSON.parse(value);
    const before = process.cpuUsage();
    for (const code of codes) {
      const data = await client.exchangeCode(code); // eslint-disable-line no-await-in-loop
      if (!data || !Array.isArray(data.data) || data.data.length === 0) {
        throw new Error(`the exchange returned no attributes: ${JSON.stringify(data).slice(0, 300)}`);
      }
    }
    const used = cpuMicros(process.cpuUsage(before));
    process.stdout.write(`${JSON.stringify({ cpu_us: used, exchanges: codes.length })}\n`);
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
