package batch

// ProgressLine is progressLine, for tests.
var ProgressLine = progressLine
