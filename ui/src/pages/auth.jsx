// The basic-auth app in the UI (`mlox server --app-name basic-auth`): who is signed in,
// the administrators' user page and the permissions panel of experiments and registered
// models. Everything goes through MLflow's own user and permission endpoints; on a server
// without the auth app (`users/current` answers 404) none of it is shown.
//
// Signing in is the browser's Basic prompt, as with MLflow's app: the server answers 401
// with `WWW-Authenticate: Basic` and the browser sends the credentials with every request
// of the page (see ARCHITECTURE.md, "Authentication in the web UI").
import { useEffect, useState } from 'preact/hooks';
import { PREFIX } from '../base.js';
import { ApiError } from '../api.js';
import { Link } from '../router.js';
import { errText } from '../util.js';

export const PERMISSIONS = ['READ', 'USE', 'EDIT', 'MANAGE', 'DENY'];

async function authCall(version, path, { method = 'GET', query, body } = {}) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) u.append(k, String(v));
  const q = u.toString();
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  const resp = await fetch(`${PREFIX}/ajax-api/${version}/mlflow/${path}${q ? '?' + q : ''}`, init);
  const text = await resp.text();
  let json = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { message: text };
  }
  if (!resp.ok) throw new ApiError(resp.status, json.error_code || 'HTTP_' + resp.status, json.message || resp.statusText);
  return json;
}

export const authApi = {
  current: () => authCall('2.0', 'users/current'),
  listUsers: () => authCall('2.0', 'users/list').then((r) => r.users || []),
  createUser: (username, password) => authCall('2.0', 'users/create', { method: 'POST', body: { username, password } }),
  updatePassword: (username, password) => authCall('2.0', 'users/update-password', { method: 'PATCH', body: { username, password } }),
  updateAdmin: (username, is_admin) => authCall('2.0', 'users/update-admin', { method: 'PATCH', body: { username, is_admin } }),
  deleteUser: (username) => authCall('2.0', 'users/delete', { method: 'DELETE', body: { username } }),
  getPermission: (username, resource_type, resource_id) =>
    authCall('3.0', 'users/permissions/get', { query: { username, resource_type, resource_id } }),
  grant: (username, resource_type, resource_id, permission) =>
    authCall('3.0', 'users/permissions/grant', { method: 'POST', body: { username, resource_type, resource_id, permission } }),
  revoke: (username, resource_type, resource_id) =>
    authCall('3.0', 'users/permissions/revoke', { method: 'POST', body: { username, resource_type, resource_id } }),
};

// One look-up per page load: the signed-in user, or null without the auth app.
let currentPromise = null;
function loadCurrent() {
  if (!currentPromise) currentPromise = authApi.current().then((r) => r.user || null, () => null);
  return currentPromise;
}

/** The signed-in user ({username, is_admin}), null without the auth app, undefined while loading. */
export function useCurrentUser() {
  const [user, setUser] = useState(undefined);
  useEffect(() => {
    loadCurrent().then(setUser);
  }, []);
  return user;
}

/** The top bar's corner: who is signed in, and the users page for administrators. */
export function UserBadge() {
  const user = useCurrentUser();
  if (!user) return null;
  return (
    <div class="user-badge" data-testid="current-user">
      {user.is_admin && (
        <Link href="/admin/users" data-testid="admin-link">
          Users
        </Link>
      )}
      <span title="Signed in with the browser's login prompt; close the browser to sign out.">
        {user.username}
        {user.is_admin ? ' (admin)' : ''}
      </span>
    </div>
  );
}

/** Administrators' page: list, create, change passwords, promote/demote, delete. */
export function AdminUsersPage() {
  const me = useCurrentUser();
  const [users, setUsers] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState('');
  const [tick, setTick] = useState(0);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const refresh = () => setTick((x) => x + 1);
  useEffect(() => {
    authApi.listUsers().then(setUsers, setError);
  }, [tick]);
  const act = (p, done) =>
    p.then(
      () => {
        setError(null);
        setNotice(done);
        refresh();
      },
      (e) => {
        setNotice('');
        setError(e);
      },
    );
  if (me === null) return <div class="page"><div class="error">This server does not run the basic-auth app (mlox server --app-name basic-auth).</div></div>;
  if (me && !me.is_admin) return <div class="page"><div class="error" data-testid="admin-denied">PERMISSION_DENIED: only administrators manage users.</div></div>;
  return (
    <div class="page" data-testid="admin-users">
      <div class="page-head">
        <h1>Users</h1>
      </div>
      {error && <div class="error" data-testid="admin-error">{errText(error)}</div>}
      {notice && <div class="muted" data-testid="admin-notice">{notice}</div>}
      <form
        class="card row-form"
        data-testid="create-user"
        onSubmit={(e) => {
          e.preventDefault();
          act(authApi.createUser(name, password), `Created user ${name}.`).then(() => {
            setName('');
            setPassword('');
          });
        }}
      >
        <h3>New user</h3>
        <input placeholder="username" value={name} onInput={(e) => setName(e.target.value)} data-testid="new-username" />
        <input placeholder="password" type="password" value={password} onInput={(e) => setPassword(e.target.value)} data-testid="new-password" />
        <button type="submit" disabled={!name || !password}>
          Create user
        </button>
      </form>
      {!users ? (
        <div class="muted">Loading…</div>
      ) : (
        <table class="table" data-testid="users-table">
          <thead>
            <tr>
              <th>User</th>
              <th>Administrator</th>
              <th>Password</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <UserRow key={u.username} u={u} self={me && me.username === u.username} act={act} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function UserRow({ u, self, act }) {
  const [pw, setPw] = useState('');
  return (
    <tr data-testid={`user-${u.username}`}>
      <td>{u.username}</td>
      <td>
        {u.is_admin ? 'yes ' : 'no '}
        {!self && (
          <button class="link" data-testid="toggle-admin" onClick={() => act(authApi.updateAdmin(u.username, !u.is_admin), `${u.username} is ${u.is_admin ? 'no longer' : 'now'} an administrator.`)}>
            {u.is_admin ? 'demote' : 'make admin'}
          </button>
        )}
      </td>
      <td>
        <input type="password" placeholder="new password" value={pw} onInput={(e) => setPw(e.target.value)} data-testid="change-password" />
        <button disabled={!pw} data-testid="save-password" onClick={() => act(authApi.updatePassword(u.username, pw), `Changed the password of ${u.username}.`).then(() => setPw(''))}>
          Change
        </button>
      </td>
      <td>
        {!self && (
          <button class="danger" data-testid="delete-user" onClick={() => confirm(`Delete user ${u.username}?`) && act(authApi.deleteUser(u.username), `Deleted user ${u.username}.`)}>
            Delete
          </button>
        )}
      </td>
    </tr>
  );
}

/**
 * The permissions of one experiment or registered model, for users who may manage it
 * (MANAGE, or administrators): each user's permission, grant, change, revoke.
 */
export function PermissionsPanel({ resourceType, resourceId }) {
  const me = useCurrentUser();
  const [canManage, setCanManage] = useState(false);
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [tick, setTick] = useState(0);
  const [who, setWho] = useState('');
  const [perm, setPerm] = useState('READ');
  useEffect(() => {
    if (!me) return;
    if (me.is_admin) return setCanManage(true);
    authApi.getPermission(me.username, resourceType, resourceId).then(
      (r) => setCanManage(r.permission === 'MANAGE'),
      () => setCanManage(false),
    );
  }, [me, resourceType, resourceId]);
  useEffect(() => {
    if (!me || !canManage) return;
    authApi
      .listUsers()
      .then((users) =>
        Promise.all(
          users.map((u) =>
            authApi.getPermission(u.username, resourceType, resourceId).then(
              (r) => ({ username: u.username, is_admin: u.is_admin, permission: r.permission }),
              () => ({ username: u.username, is_admin: u.is_admin, permission: '?' }),
            ),
          ),
        ),
      )
      .then(setRows, setError);
  }, [me, canManage, tick, resourceType, resourceId]);
  if (!me || !canManage) return null;
  const after = (p) =>
    p.then(
      () => {
        setError(null);
        setTick((x) => x + 1);
      },
      setError,
    );
  // A grant replaces the user's existing one (MLflow keeps one per user and resource).
  const setPermission = (username, permission) =>
    authApi.grant(username, resourceType, resourceId, permission).catch((e) => {
      if (e.code !== 'RESOURCE_ALREADY_EXISTS') throw e;
      return authApi.revoke(username, resourceType, resourceId).then(() => authApi.grant(username, resourceType, resourceId, permission));
    });
  return (
    <details class="card permissions" data-testid="permissions-panel">
      <summary>
        <h3 style="display:inline">Permissions</h3>
      </summary>
      {error && <div class="error" data-testid="permissions-error">{errText(error)}</div>}
      {!rows ? (
        <div class="muted">Loading…</div>
      ) : (
        <table class="table small">
          <thead>
            <tr>
              <th>User</th>
              <th>Permission</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.username} data-testid={`perm-${r.username}`}>
                <td>{r.username}</td>
                <td data-testid="perm-value">{r.is_admin ? 'admin' : r.permission}</td>
                <td>
                  {!r.is_admin && r.username !== me.username && (
                    <button class="link" data-testid="revoke" onClick={() => after(authApi.revoke(r.username, resourceType, resourceId))}>
                      revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        class="row-form"
        data-testid="grant-form"
        onSubmit={(e) => {
          e.preventDefault();
          after(setPermission(who, perm));
        }}
      >
        <select value={who} onChange={(e) => setWho(e.target.value)} data-testid="grant-user">
          <option value="">user…</option>
          {(rows || [])
            .filter((r) => !r.is_admin && r.username !== me.username)
            .map((r) => (
              <option key={r.username} value={r.username}>
                {r.username}
              </option>
            ))}
        </select>
        <select value={perm} onChange={(e) => setPerm(e.target.value)} data-testid="grant-permission">
          {PERMISSIONS.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!who} data-testid="grant-submit">
          Grant
        </button>
      </form>
    </details>
  );
}
