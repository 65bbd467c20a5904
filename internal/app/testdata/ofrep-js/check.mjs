// Evaluates the cases read from standard input with the official
// OpenFeature server SDK and its OFREP provider against the Weir server at
// process.argv[2], with the SDK key process.argv[3], and prints what the
// SDK returned for each, as JSON, one array.
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const [baseUrl, sdkKey] = process.argv.slice(2);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const cases = JSON.parse(input);

await OpenFeature.setProviderAndWait(
  new OFREPProvider({ baseUrl, headers: [['Authorization', `Bearer ${sdkKey}`]] }),
);
const client = OpenFeature.getClient();
const accessors = {
  boolean: 'getBooleanDetails',
  string: 'getStringDetails',
  number: 'getNumberDetails',
  object: 'getObjectDetails',
};
const out = [];
for (const c of cases) {
  const details = await client[accessors[c.type]](c.flag, c.default, c.context ?? {});
  out.push({
    value: details.value ?? null,
    variant: details.variant ?? '',
    reason: details.reason ?? '',
    errorCode: details.errorCode ?? '',
    metadata: details.flagMetadata ?? {},
  });
}
await OpenFeature.close();
process.stdout.write(JSON.stringify(out) + '\n');
