/**
 * The file-serving suite (files.test.ts) again, with every test server's
 * files in an S3 bucket (a real S3-protocol server on 127.0.0.1, see
 * test/helpers/s3.ts): the same URLs, rules, thumbs, ranges and validators.
 */
process.env.MS_TEST_FILE_DRIVER = 's3';
await import('./files.test.js');
