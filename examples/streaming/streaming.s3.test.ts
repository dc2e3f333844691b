/**
 * The streaming example's suite (streaming.test.ts) again with the server's
 * files in an S3 bucket (a real S3-protocol server on 127.0.0.1): upload,
 * Range playback with file tokens, deletes.
 */
process.env.MS_TEST_FILE_DRIVER = 's3';
await import('./streaming.test.js');
