// The official `openai` npm client, unmodified, against `transformers serve`:
//   node openai_client.mjs BASE_URL MODEL API_KEY
// Prints one JSON object with what each call returned; openai_client_test.cpp checks it against
// the same requests sent over plain HTTP.
import OpenAI from 'openai';

const [baseURL, model, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey, maxRetries: 0 });
const messages = [{ role: 'user', content: 'Say hi' }];
const out = {};

const chat = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });
out.chat = chat.choices[0].message.content;
out.chat_finish = chat.choices[0].finish_reason;

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
});
out.stream = '';
for await (const chunk of stream) {
  if (chunk.choices.length && chunk.choices[0].delta.content) out.stream += chunk.choices[0].delta.content;
  if (chunk.usage) out.stream_usage = chunk.usage;
}

const completion = await client.completions.create({ model, prompt: 'Hello, world', max_tokens: 6, temperature: 0 });
out.completion = completion.choices[0].text;

// The client asks for base64 and decodes it into numbers.
const embedding = await client.embeddings.create({ model, input: 'Hello world' });
out.embedding = embedding.data[0].embedding;

const response = await client.responses.create({ model, input: 'Say hi', max_output_tokens: 8, temperature: 0 });
out.responses = response.output_text;

console.log(JSON.stringify(out));
