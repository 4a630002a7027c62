import Control
import ControlServer
import Domain
import Foundation
import TestSupport
import Testing

@testable import Daemon

#if canImport(Glibc)
    import Glibc
#endif

/// A raw client of a Unix socket, for sending part of a request and stalling.
struct RawSocketClient {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else { throw CancellationError() }
    }

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// Waits up to `seconds` for the server to close the connection (or answer); true when it closed it.
    func closedByServer(within seconds: Double) -> Bool {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    func close() { Glibc.close(descriptor) }
}

@Suite("Control server limits", .serialized)
struct ServerLimitsTests {
    @Test("a client that sends half a header and stalls is disconnected after the header timeout; others are served")
    func headerTimeout() async throws {
        let directory = try TestSupport.scratchDirectory()
        var configuration = DaemonConfiguration(
            socketPath: directory.appendingPathComponent("d.sock").path,
            databasePath: directory.appendingPathComponent("cellrig.sqlite").path,
            rigs: [try DaemonConfiguration.embeddedSimulatedRig()])
        configuration.serverLimits = ControlServerLimits(idleTimeout: .seconds(1))
        let running = try await RunningDaemon.start(configuration: configuration, directory: directory)
        let stalled = try (0..<20).map { _ in try RawSocketClient(path: configuration.socketPath) }
        for client in stalled { client.send("GET /v1/health HTTP/1.1\r\nHost: local") }
        let client = running.client
        let health = try await TestSupport.onThread { try client.send(.health) }
        #expect(health.rigs == 1, "another client is served while 20 stall")
        let closed = try await TestSupport.onThread { stalled.allSatisfy { $0.closedByServer(within: 30) } }
        #expect(closed, "every stalled client was disconnected")
        for client in stalled { client.close() }
        let again = try await TestSupport.onThread { try client.send(.health) }
        #expect(again.rigs == 1)
        await running.stop()
    }

    @Test("a graceful stop during a stalled request still ends the daemon")
    func stopDuringRequest() async throws {
        let directory = try TestSupport.scratchDirectory()
        var configuration = DaemonConfiguration(
            socketPath: directory.appendingPathComponent("d.sock").path,
            databasePath: directory.appendingPathComponent("cellrig.sqlite").path,
            rigs: [try DaemonConfiguration.embeddedSimulatedRig()])
        configuration.serverLimits = ControlServerLimits(idleTimeout: .seconds(2))
        let running = try await RunningDaemon.start(configuration: configuration, directory: directory)
        let header = try RawSocketClient(path: configuration.socketPath)
        header.send("POST /v1/runs HTTP/1.1\r\nHost: local\r\n")
        let body = try RawSocketClient(path: configuration.socketPath)
        body.send("POST /v1/runs HTTP/1.1\r\nHost: local\r\nContent-Length: 100000\r\n\r\n{\"protocol_file\":")
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        await running.stop()
        let took = ContinuousClock.now - start
        // The daemon's own deadline is 20 s, the unit's TimeoutStopSec 30 s; stalled clients cost one timeout.
        #expect(took < CellRigDaemon.shutdownDeadline, "the stop took \(took)")
        header.close()
        body.close()
    }
}
