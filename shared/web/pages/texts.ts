/**
 * Every text the sign-in pages show, in one place, so the product can be renamed or translated.
 * `{product}`, `{title}`, `{username}` are filled in by `t()`; values are HTML-escaped by the renderer.
 */
export const TEXTS = {
  lang: 'en',
  signInTitle: 'Sign in',
  signInIntro: 'Sign in',
  usernameLabel: 'Username',
  usernameHint: 'Your username or work email address.',
  continue: 'Continue',
  passwordTitle: 'Enter your password',
  passwordLabel: 'Password',
  signIn: 'Sign in',
  notYou: 'Not {username}? Use another account',
  chooseTitle: 'How do you want to sign in?',
  chooseEntra: 'Continue with {title}',
  choosePassword: 'Use my password',
  signedInTitle: 'You are signed in',
  signedInAs: 'Signed in as {username}.',
  signOut: 'Sign out',
  openConsole: 'Open the admin console',
  yourApplications: 'Your applications',
  signInAgain: 'Sign in again',
  errorTitle: 'Sign-in did not work',
  correlation: 'Reference: {correlationId}',
  tryAgain: 'Start again',
  // Field errors
  usernameRequired: 'Enter your username.',
  usernameTooLong: 'That username is too long.',
  passwordRequired: 'Enter your password.',
  throttled: 'Too many attempts. Wait {seconds} seconds, then try again.',
  // Error pages (a fixed text per case; nothing from the identity provider is shown)
  errors: {
    access_denied: 'Sign-in was cancelled or refused at your organisation.',
    consent_required: 'Your organisation has not approved this application yet. Ask your administrator.',
    interaction_required: 'Your organisation needs you to complete an extra step. Start again.',
    login_required: 'Your organisation needs you to sign in again. Start again.',
    temporarily_unavailable: 'Your organisation’s sign-in service is busy. Try again in a few minutes.',
    idp_error: 'Your organisation’s sign-in service reported a problem. Start again.',
    invalid_callback: 'This sign-in link is not valid. Start again.',
    state_mismatch: 'This sign-in was started in another browser or has already been used. Start again.',
    expired: 'This sign-in took too long. Start again.',
    integration_unavailable:
      'Sign-in with your organisation is not available right now. Ask your administrator.',
    integration_not_found: 'This sign-in link is not valid.',
    token_invalid: 'We could not verify your sign-in with your organisation. Start again.',
    redeem_failed: 'We could not complete your sign-in with your organisation. Start again.',
    account_mismatch:
      'The account you signed in with at your organisation could not be linked to the one you entered: it is a different account, or your details here do not name it.',
    no_account: 'There is no account here for the identity you signed in with. Ask your administrator.',
    account_disabled: 'Your account cannot sign in. Ask your administrator.',
    not_allowed: 'Your account does not sign in this way. Ask your administrator.',
    invalid_credentials: 'The username or password is not right.',
    forbidden_origin: 'This request did not come from the sign-in page. Open the sign-in page and try again.',
    throttled: 'Too many attempts. Wait a little, then try again.',
    unavailable: 'Sign-in is not available right now. Try again in a few minutes.',
    internal: 'Something went wrong on our side. Try again.',
    app_request_invalid:
      'The application sent a sign-in request that is not valid. Go back to the application and try again.',
  },
  // An unmatched first Entra sign-in: what was compared, in the user's words ({account} is the account
  // the user just signed in with at their organisation; {claim} the ID token claim compared)
  mismatchReturned: 'Your organisation signed you in as {account}.',
  mismatchForUser:
    'To sign in here as {username}, that account name must be the username or the email address set for {username} here.',
  mismatchNoEmail: 'No email address is set for {username} here.',
  mismatchNoUser: 'No account here has {account} as its username or email address.',
  mismatchAskAdmin:
    'If {account} is your account, ask your administrator to set it as your email address here (Entra’s {claim} must match). If it is not yours, start again and sign in at your organisation with your own account.',
  // The broker as OpenID Provider (sign-out requested by an application)
  appSignOutTitle: 'Sign out?',
  appSignOutIntro: 'An application asked to sign you out of {product}.',
  appSignOutNamed: '{app} asked to sign you out of {product}.',
  appSignOutExplain:
    'Sign out ends your session at {product} and in the applications that use it. Stay signed in keeps it: you leave {app} only.',
  appSignOutUnnamed: 'the application',
  staySignedIn: 'Stay signed in',
  appSignedOutTitle: 'You are signed out',
} as const;

export type ErrorCase = keyof typeof TEXTS.errors;

export function t(template: string, values: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in values ? String(values[k]) : m));
}
