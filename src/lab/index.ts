// The lab stage: the runs the notebooks share (trained and analysed on first use).
export * from './runs';
