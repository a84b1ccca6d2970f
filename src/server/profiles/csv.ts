/**
 * CSV reading for the platform importers: delimiter detection and syntax-error recovery, from the one
 * CSV module of the code base (src/core/csv.ts).
 */
export { detectDelimiter, parseCsvTolerant, type CsvField, type CsvRecord, type CsvSyntaxIssue } from '../../core/csv.js';
