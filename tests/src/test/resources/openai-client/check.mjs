// Drives an OSD server with the official OpenAI Node client, unchanged: completions, chat completions,
// streaming with usage, models, and an API error. Prints one JSON line with what it saw; exits 1 on a failure.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.argv[2], apiKey: 'unused', maxRetries: 0 });
const out = {};
const models = await client.models.list();
out.model = models.data[0].id;
const completion = await client.completions.create({ model: out.model, prompt: 'How many apples', max_tokens: 12,
  temperature: 0 });
out.completion = completion.choices[0].text;
out.completion_tokens = completion.usage.completion_tokens;
out.spec = completion.metrics?.speculative_decoding ?? null;
const chat = await client.chat.completions.create({ model: out.model, max_tokens: 12, temperature: 0,
  messages: [{ role: 'user', content: 'How many apples' }] });
out.chat = chat.choices[0].message.content;
out.chat_role = chat.choices[0].message.role;
let streamed = '';
let usage = null;
const stream = await client.chat.completions.create({ model: out.model, max_tokens: 12, temperature: 0,
  messages: [{ role: 'user', content: 'How many apples' }], stream: true, stream_options: { include_usage: true } });
for await (const chunk of stream) {
  if (chunk.choices.length > 0 && chunk.choices[0].delta.content) { streamed += chunk.choices[0].delta.content; }
  if (chunk.usage) { usage = chunk.usage; }
}
out.chat_streamed = streamed;
out.stream_usage = usage;
try {
  await client.completions.create({ model: out.model, prompt: 'x', temperature: -1 });
  out.error = 'none';
} catch (e) {
  out.error = { status: e.status, param: e.param, type: e.type };
}
console.log(JSON.stringify(out));
