// Sign-up, sign-in (USER_SRP_AUTH: the password never leaves the page) and the signed-in user's own
// notes. The page's settings come from /config.json, written at deployment; the API is on the
// page's own origin under /api, and answers with the notes of the user the token names.
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserAttribute,
  CognitoUserPool,
} from "amazon-cognito-identity-js";

const view = document.getElementById("view");
const who = document.getElementById("who");
let pool;

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([name, value]) => node.setAttribute(name, value));
  children.forEach((child) => node.append(child));
  return node;
}

function field(name, label, type = "text") {
  return element("input", { name, type, placeholder: label, "aria-label": label, required: "" });
}

function promised(call) {
  return new Promise((resolve, reject) => call((error, result) => (error ? reject(error) : resolve(result))));
}

function user(email) {
  return new CognitoUser({ Username: email, Pool: pool, Storage: window.sessionStorage });
}

function currentSession() {
  const current = pool.getCurrentUser();
  if (!current) return Promise.resolve(null);
  return promised((done) => current.getSession(done)).catch(() => null);
}

async function api(method, path, body) {
  const session = await currentSession();
  const headers = { Authorization: session ? session.getIdToken().getJwtToken() : "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, data: await response.json() };
}

function form(id, className, fields, button, onSubmit) {
  const node = element("form", { id, class: className }, ...fields, element("button", { type: "submit" }, button));
  const message = element("p", { class: "error", id: `${id}-message` });
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      await onSubmit(new FormData(node));
    } catch (error) {
      message.textContent = error.message || String(error);
    }
  });
  return [node, message];
}

function showSignIn(note) {
  who.textContent = "";
  const signIn = form("sign-in", "account", [field("email", "Email", "email"), field("password", "Password", "password")], "Sign in",
    async (fields) => {
      const email = fields.get("email");
      const details = new AuthenticationDetails({ Username: email, Password: fields.get("password") });
      await new Promise((resolve, reject) => user(email).authenticateUser(details, { onSuccess: resolve, onFailure: reject }));
      await render();
    });
  const signUp = form("sign-up", "account", [field("email", "Email", "email"), field("password", "Password", "password")], "Sign up",
    async (fields) => {
      const email = fields.get("email");
      const attributes = [new CognitoUserAttribute({ Name: "email", Value: email })];
      await promised((done) => pool.signUp(email, fields.get("password"), attributes, null, done));
      showConfirm(email);
    });
  view.replaceChildren(
    ...(note ? [element("p", { id: "note" }, note)] : []),
    element("fieldset", {}, element("legend", {}, "Sign in"), ...signIn),
    element("fieldset", {}, element("legend", {}, "New here? Create an account"), ...signUp),
  );
}

function showConfirm(email) {
  const confirm = form("confirm", "", [field("code", "Code from the email", "text")], "Confirm", async (fields) => {
    await promised((done) => user(email).confirmRegistration(fields.get("code"), true, done));
    showSignIn(`${email} is confirmed: sign in.`);
  });
  view.replaceChildren(element("p", {}, `We sent a code to ${email}.`), ...confirm);
}

async function showNotes() {
  const { status, data } = await api("GET", "/api/notes");
  if (status !== 200) {
    view.replaceChildren(element("p", { class: "error" }, `The API answered ${status}: ${data.message}`));
    return;
  }
  const list = element("ul", { class: "notes" });
  data.notes.forEach((note) => list.append(element("li", {}, element("a", { href: `/notes/${note.id}`, "data-route": "" }, note.text))));
  const add = form("add", "", [field("text", "A note")], "Add", async (fields) => {
    const { status: added, data: answer } = await api("POST", "/api/notes", { text: fields.get("text") });
    if (added !== 201) throw new Error(answer.message);
    await showNotes();
  });
  view.replaceChildren(element("p", { id: "count" }, `${data.notes.length} note${data.notes.length === 1 ? "" : "s"}`), list, ...add);
}

async function showNote(id) {
  const { status, data } = await api("GET", `/api/notes/${encodeURIComponent(id)}`);
  view.replaceChildren(status === 200 ? element("h1", {}, data.text) : element("p", { class: "error" }, "No such note."));
}

async function render() {
  const session = await currentSession();
  if (!session) return showSignIn();
  const signOut = element("button", { id: "sign-out", type: "button" }, "Sign out");
  signOut.addEventListener("click", () => {
    pool.getCurrentUser().signOut();
    showSignIn();
  });
  who.replaceChildren(`${session.getIdToken().payload.email} `, signOut);
  const match = window.location.pathname.match(/^\/notes\/([^/]+)$/);
  return match ? showNote(decodeURIComponent(match[1])) : showNotes();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-route]");
  if (link) {
    event.preventDefault();
    window.history.pushState({}, "", link.getAttribute("href"));
    render();
  }
});
window.addEventListener("popstate", render);

fetch("/config.json")
  .then((response) => response.json())
  .then((config) => {
    pool = new CognitoUserPool({
      UserPoolId: config.userPoolId,
      ClientId: config.clientId,
      endpoint: config.cognitoEndpoint,
      Storage: window.sessionStorage,
    });
    return render();
  });
