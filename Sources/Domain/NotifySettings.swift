/// Where the daemon reports what needs a person (a run's end, a fault, a pause): the `notify:` section of its
/// configuration file. Either target or both; deliveries never hold up a run.
public struct NotifySettings: Sendable, Hashable {
    /// An HTTP endpoint that gets a POST of the notification's JSON document.
    public struct Webhook: Sendable, Hashable {
        public var host: String
        public var port: Int
        /// The request target: path and query, starting with `/`.
        public var path: String

        public init(host: String, port: Int = 80, path: String = "/") {
            self.host = host
            self.port = port
            self.path = path
        }

        /// Reads `http://HOST[:PORT][/PATH]`; nil with the reason when the text is not such a URL.
        public static func parse(_ text: String) -> Result<Webhook, WebhookURLError> {
            guard text.hasPrefix("http://") else {
                if text.hasPrefix("https://") { return .failure(.https) }
                return .failure(.notHTTP)
            }
            let rest = text.dropFirst("http://".count)
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            var path = String(rest.dropFirst(authority.count))
            if path.isEmpty { path = "/" } else if path.hasPrefix("?") { path = "/" + path }
            guard !authority.contains("@") else { return .failure(.credentials) }
            var host = String(authority)
            var port = 80
            if host.hasPrefix("[") {  // an IPv6 literal
                guard let close = host.firstIndex(of: "]") else { return .failure(.badHost) }
                let after = host[host.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                        return .failure(.badPort)
                    }
                    port = value
                } else if !after.isEmpty {
                    return .failure(.badHost)
                }
                host = String(host[host.index(after: host.startIndex)..<close])
            } else if let colon = host.lastIndex(of: ":") {
                guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
                    return .failure(.badPort)
                }
                port = value
                host = String(host[..<colon])
            }
            guard !host.isEmpty, !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                return .failure(.badHost)
            }
            return .success(Webhook(host: host, port: port, path: path))
        }
    }

    /// Why a webhook URL was refused.
    public enum WebhookURLError: Error, Sendable, Hashable {
        case https, notHTTP, credentials, badPort, badHost

        public var problem: String {
            switch self {
            case .https:
                "the daemon posts plain HTTP only (a receiver on the lab network or this PC); for an https "
                    + "endpoint give `command:` with curl, which does TLS"
            case .notHTTP: "not an http:// URL"
            case .credentials: "the URL must not carry a user or password"
            case .badPort: "the port is not a number from 1 to 65535"
            case .badHost: "the URL has no host, or a space in its path"
            }
        }
    }

    /// A program to run with the notification's JSON document on its standard input.
    public enum Command: Sendable, Hashable {
        /// Run directly (the list's first item is the program).
        case arguments([String])
        /// Run through `/bin/sh -c`.
        case shell(String)
    }

    /// What is notified.
    public enum Event: String, Sendable, Hashable, CaseIterable {
        /// Every run's end (completed, stopped by a criterion with its CCD, aborted, interrupted, faulted).
        case runEnded = "run-ended"
        /// A fault during a run (an instrument went away, a reading failed).
        case fault
        /// A pause at open circuit (a guard's verdict, a lost instrument).
        case pause
    }

    public var webhook: Webhook?
    public var command: Command?
    public var events: Set<Event>
    /// Notifications of one kind for one run closer together than this are dropped (and counted); a run's end is
    /// never dropped this way.
    public var minimumInterval_s: Double
    /// Further attempts after a failed delivery, and the wait before the first of them (doubled each time).
    public var retries: Int
    public var retryDelay_s: Double
    /// The longest one delivery may take (connection, request and answer, or the command's run).
    public var timeout_s: Double
    /// Notifications waiting for delivery at most; beyond it the oldest is dropped (and counted).
    public var queueSize: Int

    /// One line for `cellrigd --check`: the targets and the events.
    public var summary: String {
        var targets: [String] = []
        if let webhook { targets.append("webhook http://\(webhook.host):\(webhook.port)\(webhook.path)") }
        switch command {
        case .arguments(let arguments): targets.append("command \(arguments.joined(separator: " "))")
        case .shell(let line): targets.append("command sh -c '\(line)'")
        case nil: break
        }
        let events = Event.allCases.filter(events.contains).map(\.rawValue).joined(separator: ", ")
        return targets.joined(separator: " and ") + " on " + events
    }

    public init(
        webhook: Webhook? = nil, command: Command? = nil, events: Set<Event> = Set(Event.allCases),
        minimumInterval_s: Double = 60, retries: Int = 5, retryDelay_s: Double = 2, timeout_s: Double = 10,
        queueSize: Int = 100
    ) {
        self.webhook = webhook
        self.command = command
        self.events = events
        self.minimumInterval_s = minimumInterval_s
        self.retries = retries
        self.retryDelay_s = retryDelay_s
        self.timeout_s = timeout_s
        self.queueSize = queueSize
    }
}
