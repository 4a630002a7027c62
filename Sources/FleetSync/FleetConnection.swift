import Domain
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// Turns a ``PostgresEndpoint`` and a ``PasswordSource`` into a postgres-nio client configuration.
public enum FleetConnection {
    /// The password, read now from its file or environment variable (nil for ``PasswordSource/none``).
    public static func password(
        _ source: PasswordSource, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> String? {
        switch source {
        case .none:
            return nil
        case .environment(let name):
            guard let value = environment[name] else {
                throw FleetError.configuration("the PostgreSQL password is to come from $\(name), which is not set")
            }
            return value
        case .file(let path):
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw FleetError.configuration(
                    "\(path): cannot read the PostgreSQL password file: \(error.localizedDescription)")
            }
            guard let line = text.split(separator: "\n", omittingEmptySubsequences: false).first,
                !line.isEmpty
            else {
                throw FleetError.configuration("\(path): the PostgreSQL password file is empty")
            }
            return String(line.hasSuffix("\r") ? line.dropLast() : line)
        }
    }

    /// The client configuration: TCP with TLS as `sslmode` asks, or the server's Unix socket.
    public static func configuration(_ endpoint: PostgresEndpoint, password: String?) throws
        -> PostgresClient.Configuration
    {
        var configuration: PostgresClient.Configuration
        if endpoint.isUnixSocket {
            configuration = PostgresClient.Configuration(
                unixSocketPath: endpoint.unixSocketPath, username: endpoint.user, password: password,
                database: endpoint.database)
        } else {
            configuration = PostgresClient.Configuration(
                host: endpoint.host, port: endpoint.port, username: endpoint.user, password: password,
                database: endpoint.database, tls: try tls(endpoint))
        }
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 2
        configuration.options.keepAliveBehavior = .init(frequency: .seconds(20))
        return configuration
    }

    static func tls(_ endpoint: PostgresEndpoint) throws -> PostgresClient.Configuration.TLS {
        switch endpoint.tls {
        case .disable:
            return .disable
        case .prefer, .require:
            // As libpq's sslmode=prefer and require: encrypted, the certificate not checked.
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            return endpoint.tls == .prefer ? .prefer(tls) : .require(tls)
        case .verifyFull:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification
            if let path = endpoint.rootCertificatePath {
                do {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
                } catch {
                    throw FleetError.configuration("\(path): cannot read the CA certificates (sslrootcert): \(error)")
                }
            }
            return .require(tls)
        }
    }

    /// Runs `body` with a client that is running; the client is shut down when `body` returns or throws.
    public static func withClient<T: Sendable>(
        _ endpoint: PostgresEndpoint, password: String?, logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(
            configuration: try configuration(endpoint, password: password), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}
