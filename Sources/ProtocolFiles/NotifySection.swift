import Domain

/// Reads the `notify:` section of the daemon's configuration file (``DaemonConfigFile``) (docs/daemon-configuration.md), with errors that
/// name file, line, key, value and what is allowed.
public enum NotifySection {
    static let keys = [
        "webhook", "command", "events", "minimum_interval", "retries", "retry_delay", "timeout", "queue_size",
    ]

    static func parse(_ node: LocatedNode) throws(FileError) -> NotifySettings {
        let reader = try node.mapping(allowedKeys: keys)
        var settings = NotifySettings()
        if let webhookNode = reader.optional("webhook") {
            let text = try webhookNode.string()
            switch NotifySettings.Webhook.parse(text) {
            case .success(let webhook): settings.webhook = webhook
            case .failure(let error):
                throw webhookNode.error(error.problem, value: text, allowed: "http://HOST[:PORT]/PATH")
            }
        }
        if let commandNode = reader.optional("command") {
            if commandNode.isScalar {
                let text = try commandNode.string()
                guard !text.isEmpty else { throw commandNode.error("the command is empty") }
                settings.command = .shell(text)
            } else {
                var arguments: [String] = []
                for item in try commandNode.list() { arguments.append(try item.string()) }
                guard let program = arguments.first, program.hasPrefix("/") else {
                    throw commandNode.error(
                        "a command list starts with the program's absolute path", value: arguments.first,
                        allowed: "[/usr/bin/program, argument, ...], or one line for /bin/sh -c")
                }
                settings.command = .arguments(arguments)
            }
        }
        guard settings.webhook != nil || settings.command != nil else {
            throw node.error("notify: needs a webhook, a command, or both")
        }
        if let eventsNode = reader.optional("events") {
            var events: Set<NotifySettings.Event> = []
            let allowed = NotifySettings.Event.allCases.map(\.rawValue)
            for item in try eventsNode.list() {
                events.insert(NotifySettings.Event(rawValue: try item.word(allowed: allowed))!)
            }
            guard !events.isEmpty else {
                throw eventsNode.error("events: lists nothing", allowed: allowed.joined(separator: ", "))
            }
            settings.events = events
        }
        if let value = try reader.optional("minimum_interval")?.quantity(.time, range: 0...86400) {
            settings.minimumInterval_s = value
        }
        if let value = try reader.optional("retries")?.integer(range: 0...100) { settings.retries = value }
        if let value = try reader.optional("retry_delay")?.quantity(.time, range: 0.01...3600) {
            settings.retryDelay_s = value
        }
        if let value = try reader.optional("timeout")?.quantity(.time, range: 0.1...600) { settings.timeout_s = value }
        if let value = try reader.optional("queue_size")?.integer(range: 1...100_000) { settings.queueSize = value }
        return settings
    }
}
