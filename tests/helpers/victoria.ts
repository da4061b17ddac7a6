/** The victoria-metrics runner lives in scripts/ (the benchmark uses it too, and nothing imports tests/). */
export * from '../../scripts/victoria.ts';
