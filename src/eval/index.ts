// The eval stage's public API (its owner lists its exports here).
export {};
