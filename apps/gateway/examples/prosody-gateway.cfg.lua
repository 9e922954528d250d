-- The Prosody side of the gateway (Prosody 0.12+, with Debian's prosody-modules for mod_privilege and
-- mod_delegation). Merge into your prosody.cfg.lua.

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
	-- XEP-0355: IQ namespaces the gateway answers for this host.
	delegations = {
		-- ["urn:xmpp:raa:0"] = { jid = "gateway.example.org" };   -- report-affiliations
	}

Component "gateway.example.org"
	component_secret = "change me, and put the same value in GATEWAY_SECRET"
	-- Required on the component too: this is what makes the VirtualHost announce the privileges.
	modules_enabled = { "privilege"; "delegation" }
