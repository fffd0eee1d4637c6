// Viewer response (runtime 1.0): marks the response and reports the status the origin gave.
function handler(event) {
  var response = event.response;
  response.headers['x-viewer-response'] = { value: 'seen ' + response.statusCode };
  return response;
}
