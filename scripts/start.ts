/**
 * `npm start`: brings up the local cloud, deploys the stacks to it with the plain CDK CLI, then runs
 * the reference system — places coffee orders through the PlaceOrder function and prints each event
 * as the relay delivers it on both paths (the ordered FIFO subscription and the EventBridge fan-out).
 * The emulator keeps running afterwards so you can explore; `npm run local:stop` stops it.
 */
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeliveryLog, type Delivery, type DeliveryPath } from '../functions/coffee/deliveries/DeliveryLog';
import type { PlaceOrder } from '../functions/coffee/orders/placeOrder';
import { auditSubject, discoverStores, PersonalDataSealer } from '../functions/toolkit/privacy';
import { cloudEnv, ensureCloud, LOG_FILE } from '../localstack/cloud';
import { deployStacks } from '../localstack/deploy';

const ORDERS = Number(process.env.ORDERS ?? 6);
const c = { dim: '\x1b[2m', bold: '\x1b[1m', green: '\x1b[32m', cyan: '\x1b[36m', yellow: '\x1b[33m', red: '\x1b[31m', reset: '\x1b[0m' };

const started = Date.now();
const { endpoint, started: startedHere } = await ensureCloud();
Object.assign(process.env, cloudEnv(endpoint));
console.log(`${c.bold}Local cloud${c.reset} ${startedHere ? 'started' : 'reused'} at ${endpoint} ${c.dim}(log: ${LOG_FILE})${c.reset}`);
console.log(`${c.bold}Deploying${c.reset} the CoffeeOrders stack with cdk deploy …`);
const outputs = (await deployStacks({ quiet: true })).CoffeeOrders;
if (!outputs) throw new Error('CoffeeOrders stack outputs missing after deploy');
console.log(`${c.green}Deployed${c.reset} in ${((Date.now() - started) / 1000).toFixed(1)} s ${c.dim}(log: .local/deploy.log)${c.reset}\n`);

const lambda = new LambdaClient({});
const deliveries = new DeliveryLog(new DynamoDBClient({}), outputs.DeliveriesTableName!);
const products = ['latte', 'espresso', 'cappuccino', 'flat-white', 'mocha', 'americano'] as const;
const sizes = ['small', 'medium', 'large'] as const;

async function placeOrder(command: unknown): Promise<{ status: string; error?: string; message?: string; eventIds?: string[] }> {
  const response = await lambda.send(new InvokeCommand({ FunctionName: outputs!.PlaceOrderFunctionName, Payload: JSON.stringify(command) }));
  const payload = JSON.parse(Buffer.from(response.Payload ?? []).toString() || '{}');
  if (response.FunctionError) throw new Error(`PlaceOrder failed: ${JSON.stringify(payload)}`);
  return payload;
}

async function watch(orderId: string, committedAt: number): Promise<void> {
  const seen = new Set<DeliveryPath>();
  const deadline = Date.now() + 30_000;
  while (seen.size < 2 && Date.now() < deadline) {
    for (const path of ['ordered', 'fanout'] as const) {
      if (seen.has(path)) continue;
      const [first]: Delivery[] = await deliveries.list(path, orderId);
      if (!first) continue;
      seen.add(path);
      const label = path === 'ordered' ? `${c.cyan}FIFO subscriber${c.reset}` : `${c.yellow}bus → rule → queue${c.reset}`;
      const lag = new Date(first.receivedAt).getTime() - committedAt;
      console.log(`    ${label.padEnd(28)} ${first.type} ${c.dim}subject=${first.subject} sequence=${first.sequence} id=${first.id} (+${lag} ms)${c.reset}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (seen.size < 2) console.log(`    ${c.red}not delivered within 30 s on: ${['ordered', 'fanout'].filter((p) => !seen.has(p as DeliveryPath)).join(', ')}${c.reset}`);
}

const CUSTOMER = { customerId: `cust-${Date.now().toString(36)}`, name: 'Ada Lovelace', email: 'ada@example.com' };
console.log(`${c.bold}Placing ${ORDERS} orders${c.reset} (the first for a customer whose name and email are sealed; and one malformed command, and one duplicate):\n`);
let firstOrder = '';
for (let i = 0; i < ORDERS; i++) {
  const orderId = `order-${Date.now().toString(36)}-${i}`;
  firstOrder ||= orderId;
  const command: PlaceOrder = {
    orderId,
    lines: [{ product: products[i % products.length]!, size: sizes[i % sizes.length]!, quantity: 1 + (i % 2) }],
    ...(i === 0 ? { customer: CUSTOMER } : {}),
  };
  const committedAt = Date.now();
  const result = await placeOrder(command);
  console.log(`  ${c.green}PlaceOrder${c.reset} ${orderId}: ${command.lines.map((l) => `${l.quantity}× ${l.size} ${l.product}`).join(', ')} → ${result.status}`);
  await watch(orderId, committedAt);
  if (i === 1) {
    const bad = await placeOrder({ orderId: 'x', lines: [{ product: 'tea', quantity: 0 }] });
    console.log(`  ${c.red}PlaceOrder${c.reset} (malformed) → ${bad.status}: ${bad.error}: ${bad.message}`);
  }
  if (i === 2) {
    const dup = await placeOrder({ orderId: firstOrder, lines: [{ product: 'latte' }] });
    console.log(`  ${c.red}PlaceOrder${c.reset} ${firstOrder} again → ${dup.status}: ${dup.error}: ${dup.message}`);
  }
}

// Crypto-shredding: erase the customer, then audit every table and queue of the stack for them.
console.log(`\n${c.bold}Erasing customer ${CUSTOMER.customerId}${c.reset} (right to be forgotten):`);
const erased = JSON.parse(
  Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: outputs.EraseCustomerFunctionName, Payload: JSON.stringify({ subject: CUSTOMER.customerId, erasedBy: 'npm-start' }) }))).Payload ?? []).toString(),
);
console.log(`  ${erased.status} at ${erased.erasedAt} (${erased.mode} mode); published privacy.subject.erased ${erased.eventId}`);
const eraserEnv = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: outputs.EraseCustomerFunctionName }))).Environment?.Variables ?? {};
const sealer = PersonalDataSealer.fromEnvironment({ env: eraserEnv });
const stores = await discoverStores(new DynamoDBClient({}), new SQSClient({}), (name) => name.startsWith('CoffeeOrders'));
const audit = await auditSubject({ subject: CUSTOMER.customerId, stores, canOpen: (sealed) => sealer.canOpen(sealed), knownValues: [CUSTOMER.name, CUSTOMER.email] });
for (const store of audit.stores.filter((s) => s.sealed > 0)) console.log(`  ${store.kind} ${store.name}: ${store.sealed} sealed copies, ${store.readable} readable, ${store.plaintext} plaintext`);
console.log(`  Audit of ${audit.stores.length} stores: ${audit.clean ? `${c.green}CLEAN${c.reset}: nothing of the customer can be read` : `${c.red}NOT CLEAN${c.reset}`} (npm run ops -- privacy audit ${CUSTOMER.customerId} --known "${CUSTOMER.name}")`);

console.log(`\n${c.bold}Done.${c.reset} The local cloud is still running at ${endpoint}; try, for example:`);
console.log(`  AWS_ENDPOINT_URL=${endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\`);
console.log(`    aws lambda invoke --function-name ${outputs.PlaceOrderFunctionName} --cli-binary-format raw-in-base64-out \\`);
console.log(`    --payload '{"orderId":"my-order","lines":[{"product":"mocha"}]}' /dev/stdout`);
console.log(`Stop it with: npm run local:stop`);
