-- mod_xmppkit_account_info: when a local account was created, for a trusted component.
-- Copyright (C) 2026 the xmppkit authors. MIT licensed (see LICENSE in @xmppkit/report-affiliations).
--
-- A companion for @xmppkit/report-affiliations, which answers XEP-0489 queries for the server's users
-- (https://xmpp.org/extensions/xep-0489.html) through delegation and puts the account's creation day in
-- `since` where the server can tell it. A component cannot read account data over XMPP; Prosody 13 records
-- when each account was made (usermanager.get_account_info(username, host).created), and this module
-- answers one question about it:
--
--   <iq type="get" to="example.org" id="a1">
--     <query xmlns="urn:xmppkit:account-info:0"><account user="alice"/></query>
--   </iq>
--   <iq type="result" from="example.org" id="a1">
--     <query xmlns="urn:xmppkit:account-info:0"><account user="alice" created="2026-11-20T10:11:12Z"/></query>
--   </iq>
--
-- `created` is a XEP-0082 DateTime in UTC (https://xmpp.org/extensions/xep-0082.html). An account made
-- before Prosody 13 has none recorded: its <account/> comes back without `created`. Errors:
--   forbidden                the asker is not listed in this VirtualHost's privileged_entities with roster
--                            "get" or "both" (the trust XEP-0356 roster access needs,
--                            https://xmpp.org/extensions/xep-0356.html)
--   item-not-found           no such account
--   jid-malformed            `user` is missing or not a valid username
--   feature-not-implemented  the host's authentication provider keeps no account info
--   internal-server-error    the account store failed
-- It only reads, and only the one account asked about.
--
-- Advertised on the host's disco#info as urn:xmppkit:account-info:0. Prosody 0.12 records no creation
-- times (it has no usermanager.get_account_info): there the module loads, says so in the log and
-- advertises nothing, and the gateway answers without `since`.
--
-- Load it on the VirtualHost whose users the gateway answers for; plugin_paths points at the package's
-- prosody/ folder (only that folder):
--   plugin_paths = { "/usr/lib/node_modules/@xmppkit/gateway/node_modules/@xmppkit/report-affiliations/prosody" }
--   VirtualHost "example.org"
--     modules_enabled = { "privilege"; "delegation"; "xmppkit_account_info" }

local jid = require "util.jid";
local st = require "util.stanza";
local datetime = require "util.datetime".datetime;
local nodeprep = require "util.encodings".stringprep.nodeprep;
local usermanager = require "core.usermanager";

local NS = "urn:xmppkit:account-info:0";

if module:get_host_type() ~= "local" then
	module:log("warn", "mod_xmppkit_account_info belongs on a VirtualHost, not on %s: not loaded here", module.host);
	return;
end
if not usermanager.get_account_info then
	module:log("warn", "Prosody %s records no account creation times (usermanager.get_account_info is Prosody 13's):"
		.. " %s is not advertised, and XEP-0489 answers go without since", prosody.version or "?", NS);
	return;
end

module:add_feature(NS);

-- The same trust as XEP-0356 roster access: the asker (a component's domain, or a user's bare JID, as
-- mod_privilege keys it) is listed in this VirtualHost's privileged_entities with roster "get" or "both".
-- The option is read at each request, so a config reload applies at once.
local function may_read(origin)
	if origin.type ~= "component" and not (origin.type == "c2s" and origin.username) then return false; end
	local entities = module:get_option("privileged_entities");
	local grants = type(entities) == "table" and entities[jid.join(origin.username, origin.host)];
	local roster = type(grants) == "table" and grants.roster;
	return roster == "get" or roster == "both";
end

module:hook("iq-get/host/" .. NS .. ":query", function(event)
	local origin, stanza = event.origin, event.stanza;
	if not may_read(origin) then
		origin.send(st.error_reply(stanza, "auth", "forbidden", "needs roster \"get\" or \"both\" in privileged_entities"));
		return true;
	end
	local account = stanza.tags[1]:get_child("account");
	local username = account and account.attr.user and nodeprep(account.attr.user);
	if not username or username == "" then
		origin.send(st.error_reply(stanza, "modify", "jid-malformed", "expected <account user=\"username\"/>"));
		return true;
	end
	if not usermanager.user_exists(username, module.host) then
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "no such account"));
		return true;
	end
	local info, err = usermanager.get_account_info(username, module.host);
	if not info then
		if err == "method not supported" or err == "method not implemented" then
			origin.send(st.error_reply(stanza, "cancel", "feature-not-implemented", "the authentication provider keeps no account info"));
		else
			module:log("error", "reading the account info of %s failed: %s", username, tostring(err));
			origin.send(st.error_reply(stanza, "wait", "internal-server-error", "could not read the account"));
		end
		return true;
	end
	local created = tonumber(info.created);
	origin.send(st.reply(stanza)
		:tag("query", { xmlns = NS })
		:tag("account", { user = username, created = created and datetime(created) or nil }));
	module:log("debug", "account info of %s given to %s", username, stanza.attr.from or origin.host);
	return true;
end);
