// Real GitHub deliveries for hookgate's tests: each asked-for example of
// @octokit/webhooks-examples (the community's collection of real payloads),
// as GitHub sends it, signed by GitHub's own @octokit/webhooks-methods and
// checked with its verify.
//
// stdin:  {"secret": "...", "examples": [["pull_request", 0], ["ping", 1], ...]}
// stdout: [{"event": "pull_request", "body": "<JSON text>", "signature": "sha256=..."}, ...]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sign, verify } from '@octokit/webhooks-methods';

const require = createRequire(import.meta.url);
const collection = require('@octokit/webhooks-examples');
const request = JSON.parse(readFileSync(0, 'utf8'));

const deliveries = [];
for (const [event, index] of request.examples) {
  const examples = collection.find((e) => e.name === event)?.examples;
  if (!examples || !examples[index]) throw new Error(`no example ${event}[${index}]`);
  const body = JSON.stringify(examples[index]);
  const signature = await sign(request.secret, body);
  if (!(await verify(request.secret, body, signature))) throw new Error('verify failed');
  deliveries.push({ event, body, signature });
}
process.stdout.write(JSON.stringify(deliveries));
