-- The Prosody side of the gateway (Prosody 0.12+, with Debian's prosody-modules for mod_privilege and
-- mod_delegation). Merge into your prosody.cfg.lua.

-- Global section (Prosody reads plugin_paths only there): report-forward's companion module, in the package's
-- prosody/ folder (under `npm root -g`, which may be /usr/local/lib/node_modules).
-- plugin_paths = { "/usr/lib/node_modules/@xmppkit/gateway/node_modules/@xmppkit/report-forward/prosody" }

VirtualHost "example.org"
	-- Keep "roster" (mod_roster) and persistent storage: http-roster-admin writes the rosters into the server.
	modules_enabled = { "privilege"; "delegation" }
	-- XEP-0356: what the gateway may do for this host's users. Grant only what your modules need;
	-- the gateway warns at start about anything a module needs and did not get.
	privileged_entities = {
		["gateway.example.org"] = {
			roster = "both";         -- http-roster-admin
			message = "outgoing";    -- report-forward with report_forward_as_server
			presence = "roster";     -- http-roster-admin (sync on login), audit-geoip (sessions)
		};
	}
	-- report-forward: users' XEP-0377 reports reach the gateway. mod_xmppkit_report_forward (plugin_paths
	-- above) names each reporter; mod_report_forward alone does not.
	-- modules_enabled = { "privilege"; "delegation"; "spam_reporting"; "report_forward"; "xmppkit_report_forward" }
	-- report_forward_to = { "gateway.example.org" }
	-- report_forward_to_origin = false   -- the gateway does it, as each reporter opted in
	-- XEP-0355: IQ namespaces the gateway answers for this host.
	delegations = {
		-- ["urn:xmpp:raa:0"] = { jid = "gateway.example.org" };   -- report-affiliations
	}

Component "gateway.example.org"
	component_secret = "change me, and put the same value in GATEWAY_SECRET"
	-- Required on the component too: this is what makes the VirtualHost announce the privileges.
	modules_enabled = { "privilege"; "delegation" }
