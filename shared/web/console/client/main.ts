/**
 * The admin console's script. Each console URL is a full page load of the server's shell; this
 * script fills <main> for that URL from the management API. Every rule is the API's: the pages only
 * show its answers (field errors next to their fields, 412 as "changed by someone else", a fresh
 * sign-in where the API asks for one).
 */

import { h } from './dom.ts';
import { alert } from './feedback.ts';
import { BASE, markReady, show } from './page.ts';
import { apiPage } from './pages/api.ts';
import { apisPage } from './pages/apis.ts';
import { applicationPage } from './pages/application.ts';
import { applicationsPage } from './pages/applications.ts';
import { auditPage } from './pages/audit.ts';
import { integrationPage } from './pages/integration.ts';
import { integrationsList } from './pages/integrations.ts';
import { settingsPage } from './pages/settings.ts';
import { tokensPage } from './pages/tokens.ts';
import { userPage } from './pages/user.ts';
import { newUserPage } from './pages/user-new.ts';
import { usersList } from './pages/users.ts';

async function route(): Promise<void> {
  const parts = location.pathname
    .slice(BASE.length)
    .split('/')
    .filter(Boolean)
    .map((p) => decodeURIComponent(p));
  const [section = 'integrations', id, more] = parts;
  switch (section) {
    case 'integrations':
      return id ? integrationPage(id) : integrationsList();
    case 'users':
      // `users/new` is the New user form; a user named "new" is at `users/new/user` (userUrl).
      if (id === 'new' && !more) return newUserPage();
      return id ? userPage(id) : usersList();
    case 'settings':
      return settingsPage();
    case 'applications':
      return id ? applicationPage(id) : applicationsPage();
    case 'apis':
      return id ? apiPage(id) : apisPage();
    case 'audit':
      return auditPage();
    case 'tokens':
      return tokensPage();
    default:
      return integrationsList();
  }
}

route()
  .catch(() => {
    show('Something went wrong', alert(h('p', {}, 'This page could not be shown. Reload to try again.')));
  })
  .finally(markReady);
