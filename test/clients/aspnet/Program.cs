// An ASP.NET Core web app that signs its users in through the broker with the OpenID Connect
// handler's defaults: authorization code flow, PKCE, pushed authorization requests (used because
// discovery advertises the PAR endpoint), SaveTokens and the userinfo call.
//
// Settings (environment variables `Oidc__Authority` etc., or `--Oidc:Authority=...` arguments):
//   Oidc:Authority     the broker's issuer, {base}/api/oidc
//   Oidc:ClientId      the application's client id
//   Oidc:ClientSecret  its secret
//   --urls             the app's own loopback URL, e.g. http://127.0.0.1:5123
// Certificates: on Linux .NET reads SSL_CERT_FILE, so a local CA bundle is trusted by pointing it there.
//
// Routes:
//   GET  /                    challenge when anonymous; the user's name and claims as JSON when signed in
//   GET  /refresh             uses the saved refresh token at the discovered token endpoint
//   GET  /logout              signs out of the cookie and the broker (RP-initiated logout)
//   GET  /signed-out          where the broker sends the browser back after logout
//   POST /backchannel-logout  OpenID Connect Back-Channel Logout 1.0 receiver
using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

const string Cookie = CookieAuthenticationDefaults.AuthenticationScheme;
const string Oidc = OpenIdConnectDefaults.AuthenticationScheme;
const string BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

var builder = WebApplication.CreateBuilder(args);
string Setting(string key) =>
    builder.Configuration[key] is { Length: > 0 } v ? v : throw new InvalidOperationException($"{key} is not set");

// The app lives for one test run: keys in memory, nothing written to the home directory.
builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
builder.Services.AddSingleton<SignedOutSessions>();

builder.Services
    .AddAuthentication(o =>
    {
        o.DefaultScheme = Cookie;
        o.DefaultChallengeScheme = Oidc;
    })
    .AddCookie(Cookie, o =>
    {
        // A session the broker ended through back-channel logout is not accepted any more.
        o.Events.OnValidatePrincipal = async ctx =>
        {
            var signedOut = ctx.HttpContext.RequestServices.GetRequiredService<SignedOutSessions>();
            if (ctx.Principal is not null && signedOut.Ended(ctx.Principal, ctx.Properties.IssuedUtc))
            {
                ctx.RejectPrincipal();
                await ctx.HttpContext.SignOutAsync(Cookie);
            }
        };
    })
    .AddOpenIdConnect(Oidc, o =>
    {
        o.Authority = Setting("Oidc:Authority");
        o.ClientId = Setting("Oidc:ClientId");
        o.ClientSecret = Setting("Oidc:ClientSecret");
        // The broker under test runs on http://localhost (loopback): the handler refuses non-https
        // metadata otherwise. A real deployment keeps the default (true).
        o.RequireHttpsMetadata = false;
        o.ResponseType = "code";
        o.SaveTokens = true;
        o.GetClaimsFromUserInfoEndpoint = true;
        o.Scope.Clear();
        foreach (var scope in new[] { "openid", "profile", "email", "offline_access" }) o.Scope.Add(scope);
    });

var app = builder.Build();
app.UseAuthentication();

app.MapGet("/health", () => Results.Text("ok"));

app.MapGet("/", async (HttpContext ctx) =>
{
    var auth = await ctx.AuthenticateAsync(Cookie);
    if (!auth.Succeeded || auth.Principal is null)
    {
        await ctx.ChallengeAsync(Oidc, new AuthenticationProperties { RedirectUri = "/" });
        return;
    }
    var user = auth.Principal;
    var claims = user.Claims
        .GroupBy(c => c.Type)
        .ToDictionary(g => g.Key, g => g.Count() == 1 ? (object)g.First().Value : g.Select(c => c.Value).ToArray());
    await ctx.Response.WriteAsJsonAsync(new
    {
        name = user.Identity?.Name ?? user.FindFirst("name")?.Value,
        sid = Claim(user, "sid", ClaimTypes.Sid),
        sub = Claim(user, "sub", ClaimTypes.NameIdentifier),
        hasRefreshToken = !string.IsNullOrEmpty(auth.Properties?.GetTokenValue("refresh_token")),
        claims,
    });
});

app.MapGet("/refresh", async (HttpContext ctx, IOptionsMonitor<OpenIdConnectOptions> monitor) =>
{
    var auth = await ctx.AuthenticateAsync(Cookie);
    if (!auth.Succeeded || auth.Principal is null || auth.Properties is null)
        return Results.Json(new { refreshed = false, error = "not_signed_in" }, statusCode: 401);
    var refreshToken = auth.Properties.GetTokenValue("refresh_token");
    if (string.IsNullOrEmpty(refreshToken))
        return Results.Json(new { refreshed = false, error = "no_refresh_token" }, statusCode: 409);

    var options = monitor.Get(Oidc);
    var config = await options.ConfigurationManager!.GetConfigurationAsync(ctx.RequestAborted);
    // client_secret_post, as the handler itself authenticates at the token endpoint.
    using var response = await options.Backchannel.PostAsync(
        config.TokenEndpoint,
        new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshToken,
            ["client_id"] = options.ClientId!,
            ["client_secret"] = options.ClientSecret!,
        }),
        ctx.RequestAborted);
    var body = await response.Content.ReadFromJsonAsync<JsonElement>(ctx.RequestAborted);
    if (!response.IsSuccessStatusCode)
    {
        return Results.Json(
            new { refreshed = false, status = (int)response.StatusCode, error = Text(body, "error") },
            statusCode: 502);
    }

    var accessToken = Text(body, "access_token");
    var newRefreshToken = Text(body, "refresh_token");
    var idToken = Text(body, "id_token");
    int? expiresIn = body.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var s) ? s : null;
    var expiresAt = expiresIn is int secs ? DateTimeOffset.UtcNow.AddSeconds(secs) : (DateTimeOffset?)null;

    // Keep the cookie's saved tokens current (the broker rotates refresh tokens).
    if (accessToken is not null) auth.Properties.UpdateTokenValue("access_token", accessToken);
    if (newRefreshToken is not null) auth.Properties.UpdateTokenValue("refresh_token", newRefreshToken);
    if (idToken is not null) auth.Properties.UpdateTokenValue("id_token", idToken);
    if (expiresAt is DateTimeOffset at) auth.Properties.UpdateTokenValue("expires_at", at.ToString("o"));
    await ctx.SignInAsync(Cookie, auth.Principal, auth.Properties);

    return Results.Json(new
    {
        refreshed = accessToken is not null,
        expiresIn,
        expiresAt,
        refreshTokenReturned = newRefreshToken is not null,
        refreshTokenRotated = newRefreshToken is not null && newRefreshToken != refreshToken,
        idTokenReturned = idToken is not null,
    });
});

// A GET for the test to drive; a production app would sign out on a POST with antiforgery.
app.MapGet("/logout", () => Results.SignOut(
    new AuthenticationProperties { RedirectUri = "/signed-out" },
    [Cookie, Oidc]));

app.MapGet("/signed-out", async (HttpContext ctx) =>
{
    var auth = await ctx.AuthenticateAsync(Cookie);
    return Results.Json(new { signedIn = auth.Succeeded });
});

app.MapPost("/backchannel-logout", async (
    HttpContext ctx,
    IOptionsMonitor<OpenIdConnectOptions> monitor,
    SignedOutSessions signedOut,
    ILogger<SignedOutSessions> log) =>
{
    ctx.Response.Headers.CacheControl = "no-store";
    if (!ctx.Request.HasFormContentType) return Results.Json(new { error = "invalid_request" }, statusCode: 400);
    var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
    var logoutToken = form["logout_token"].ToString();
    if (string.IsNullOrEmpty(logoutToken)) return Results.Json(new { error = "invalid_request" }, statusCode: 400);

    var options = monitor.Get(Oidc);
    var (token, error) = await ValidateLogoutToken(options, logoutToken, ctx.RequestAborted);
    if (token is null)
    {
        log.LogWarning("back-channel logout token refused: {Error}", error);
        return Results.Json(new { error = "invalid_request", error_description = error }, statusCode: 400);
    }
    var sid = token.TryGetPayloadValue<string>("sid", out var sidValue) ? sidValue : null;
    var sub = token.TryGetPayloadValue<string>("sub", out var subValue) ? subValue : null;
    signedOut.Record(sid, sub);
    log.LogInformation("back-channel logout: sid={Sid} sub={Sub}", sid, sub);
    return Results.Ok();
});

app.Run();

static string? Claim(ClaimsPrincipal user, params string[] types) =>
    types.Select(t => user.FindFirst(t)?.Value).FirstOrDefault(v => v is not null);

static string? Text(JsonElement body, string name) =>
    body.ValueKind == JsonValueKind.Object && body.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
        ? v.GetString()
        : null;

// Back-Channel Logout 1.0 §2.6: signature from the OP's keys, iss, aud, iat (and exp), an events
// claim with the back-channel logout member, sid or sub, and never a nonce.
static async Task<(JsonWebToken? Token, string? Error)> ValidateLogoutToken(
    OpenIdConnectOptions options, string logoutToken, CancellationToken cancel)
{
    var handler = new JsonWebTokenHandler();
    TokenValidationResult result = null!;
    // A second attempt with fresh metadata covers a key the broker rotated in since the last fetch.
    for (var attempt = 0; attempt < 2; attempt++)
    {
        var config = await options.ConfigurationManager!.GetConfigurationAsync(cancel);
        result = await handler.ValidateTokenAsync(logoutToken, new TokenValidationParameters
        {
            ValidIssuer = config.Issuer,
            ValidAudience = options.ClientId,
            IssuerSigningKeys = config.SigningKeys,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
        });
        if (result.IsValid || result.Exception is not SecurityTokenSignatureKeyNotFoundException) break;
        options.ConfigurationManager.RequestRefresh();
    }
    if (!result.IsValid) return (null, result.Exception?.GetType().Name ?? "invalid token");

    var token = (JsonWebToken)result.SecurityToken;
    using var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(token.EncodedPayload));
    var root = payload.RootElement;
    if (!root.TryGetProperty("iat", out var iat) || iat.ValueKind != JsonValueKind.Number)
        return (null, "no iat");
    if (!root.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Object
        || !events.TryGetProperty(BackchannelLogoutEvent, out var ev) || ev.ValueKind != JsonValueKind.Object)
        return (null, "no back-channel logout event");
    if (root.TryGetProperty("nonce", out _)) return (null, "a nonce is not allowed");
    if (!root.TryGetProperty("sid", out _) && !root.TryGetProperty("sub", out _)) return (null, "neither sid nor sub");
    return (token, null);
}

/// <summary>
/// Broker sessions ended by back-channel logout: by sid, or every session of a sub that started
/// before the logout when the token names only the user.
/// </summary>
sealed class SignedOutSessions
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _sids = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _subs = new();

    public void Record(string? sid, string? sub)
    {
        var now = DateTimeOffset.UtcNow;
        if (!string.IsNullOrEmpty(sid)) _sids[sid] = now;
        else if (!string.IsNullOrEmpty(sub)) _subs[sub] = now;
    }

    public bool Ended(ClaimsPrincipal user, DateTimeOffset? issued)
    {
        var sid = user.FindFirst("sid")?.Value ?? user.FindFirst(ClaimTypes.Sid)?.Value;
        if (sid is not null && _sids.ContainsKey(sid)) return true;
        var sub = user.FindFirst("sub")?.Value ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        return sub is not null && _subs.TryGetValue(sub, out var at) && (issued is null || issued <= at);
    }
}
