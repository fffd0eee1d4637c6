// Viewer request: /boom throws, /old is answered here, a directory URI gets its index.html, and
// every request that goes on carries a header saying the function ran.
async function handler(event) {
  var request = event.request;
  if (request.uri === '/boom') {
    throw new Error('the function failed on purpose');
  }
  if (request.uri === '/old') {
    return {
      statusCode: 301,
      statusDescription: 'Moved Permanently',
      headers: { location: { value: '/new' } },
    };
  }
  if (request.uri.endsWith('/') && request.uri !== '/') {
    request.uri += 'index.html';
  }
  request.headers['x-edge-function'] = { value: 'viewer-request' };
  return request;
}
