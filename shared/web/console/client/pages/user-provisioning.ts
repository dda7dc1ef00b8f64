/**
 * On a user provisioned from Entra (SCIM): which fields Entra owns, and the roles the user's Entra
 * groups give, kept apart from the roles set here. An edit here holds until Entra next sends that
 * attribute (when it changes in Entra): then Entra's value wins.
 */
import { h } from '../dom.ts';

interface ProvisionedUser {
  provisionedBy?: string | null;
  groupRoles?: string[];
}

export function provisionedNote(user: object): HTMLElement | null {
  const { provisionedBy, groupRoles } = user as ProvisionedUser;
  const roles = groupRoles ?? [];
  if (!provisionedBy && roles.length === 0) return null;
  return h(
    'div',
    { class: 'card', role: 'note', id: 'provisioned-note' },
    provisionedBy
      ? h(
          'p',
          {},
          h('strong', {}, 'Provisioned from Entra. '),
          'Username, display name, email, disabled and the bound identity are owned by Entra: a change made here holds until Entra next sends that attribute, then Entra’s value wins. Deactivate or remove the user in Entra.',
        )
      : null,
    roles.length ? h('p', {}, 'Roles from Entra groups (not editable here): ', roles.join(', ')) : null,
  );
}
