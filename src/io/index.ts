// The io stage's public API (its owner lists its exports here).
export {};
