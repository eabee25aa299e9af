// The io stage's public API: atomic writes, safetensors, Hugging Face GPT-2 interchange (export, import, tokenizers).
export * from './atomic';
export * from './safetensors';
export * from './hf-gpt2';
export * from './hf-tokenizer';
export * from './hf-import';
export * from './lock';
