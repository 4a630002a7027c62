import Domain
import Glibc
import SerialTransport
import Testing
import Transport

/// The line of a pseudo-terminal at `path`: 921600 8N1 (baud rates are accepted and ignored).
private func line(_ path: String) -> SerialLineConfiguration {
    SerialLineConfiguration(port: path, baudRate: 921_600)
}
private let patient = ReceiveTimeouts(reply: .seconds(30), interByte: .milliseconds(20))

/// Reads from `transport` until `count` bytes arrived.
private func receive(_ count: Int, from transport: any ByteTransport) async throws -> [UInt8] {
    var bytes: [UInt8] = []
    while bytes.count < count {
        bytes += try await transport.receive(maxCount: count - bytes.count, timeouts: patient)
    }
    return bytes
}

private func kind(of operation: () async throws -> Void) async -> TransportError.Kind? {
    do {
        try await operation()
        return nil
    } catch let error as TransportError {
        return error.kind
    } catch {
        return nil
    }
}

@Suite struct PseudoTerminalTransportTests {
    @Test func bytesPassUnchangedBothWays() async throws {
        let instrument = try PseudoTerminal()
        let host = try SerialPortTransport(line: line(instrument.slavePath))
        let request: [UInt8] = Array("e\r\nvar p\n".utf8) + [0x00, 0x11, 0xFF]
        try await host.send(request)
        #expect(try await receive(request.count, from: instrument) == request)
        let reply: [UInt8] = Array("P\r\n\n".utf8) + [0x03]
        try await instrument.send(reply)
        #expect(try await receive(reply.count, from: host) == reply)
        await host.close()
        await instrument.close()
    }

    @Test func receiveWithoutDataTimesOut() async throws {
        let instrument = try PseudoTerminal()
        let host = try SerialPortTransport(line: line(instrument.slavePath))
        let failure = await kind {
            _ = try await host.receive(maxCount: 8, timeouts: ReceiveTimeouts(reply: .milliseconds(50)))
        }
        #expect(failure == .timeout)
        await host.close()
        await instrument.close()
    }

    @Test func closingTheMasterIsAHangUpForAWaitingReader() async throws {
        let instrument = try PseudoTerminal()
        let host = try SerialPortTransport(line: line(instrument.slavePath))
        let reader = Task { await kind { _ = try await host.receive(maxCount: 8, timeouts: patient) } }
        try await Task.sleep(for: .milliseconds(50))
        await instrument.close()
        #expect(await reader.value == .disconnected)
        #expect(await kind { try await host.send([0x41]) } != nil)
        await host.close()
    }

    @Test func closeInterruptsAWaitingReader() async throws {
        let instrument = try PseudoTerminal()
        let host = try SerialPortTransport(line: line(instrument.slavePath))
        let reader = Task { await kind { _ = try await host.receive(maxCount: 8, timeouts: patient) } }
        try await Task.sleep(for: .milliseconds(50))
        await host.close()
        #expect(await reader.value == .closed)
        #expect(await kind { try await host.send([0x41]) } == .closed)
        await instrument.close()
    }

    @Test func reconnectReopensTheSamePath() async throws {
        let instrument = try PseudoTerminal()
        // A stable name like /dev/serial/by-id/...: pts numbers are reused at once by parallel tests.
        let link = "/tmp/cellrig-reconnect-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(symlink(instrument.slavePath, link) == 0)
        let host = try SerialPortTransport(line: line(link))
        try await host.reconnect()
        try await host.send(Array("i\n".utf8))
        #expect(try await receive(2, from: instrument) == Array("i\n".utf8))
        await instrument.close()
        unlink(link)
        #expect(await kind { try await host.reconnect() } == .openFailed)
    }

    @Test func secondOpenOfTheSamePortIsRefusedAsBusy() async throws {
        let instrument = try PseudoTerminal()
        let host = try SerialPortTransport(line: line(instrument.slavePath))
        #expect(await kind { _ = try SerialPortTransport(line: line(instrument.slavePath)) } == .busy)
        await host.close()
        let again = try SerialPortTransport(line: line(instrument.slavePath))
        await again.close()
        await instrument.close()
    }

    @Test(
        "parity on a pseudo-terminal is refused with the reason, every time (Linux drops it once, then says EINVAL)",
        arguments: [SerialLineConfiguration.Parity.even, .odd])
    func parityOnAPseudoTerminalIsRefusedPlainly(parity: SerialLineConfiguration.Parity) async throws {
        let instrument = try PseudoTerminal()
        var withParity = line(instrument.slavePath)
        withParity.parity = parity
        for _ in 0..<2 {
            do {
                _ = try SerialPortTransport(line: withParity)
                Issue.record("a pseudo-terminal cannot carry parity; opening it must fail")
            } catch let error as TransportError {
                #expect(error.kind == .openFailed)
                #expect(error.detail.contains("pseudo-terminals on Linux cannot carry parity"), "\(error)")
                #expect(error.detail.contains("parity: none"), "\(error)")
            }
        }
        let host = try SerialPortTransport(line: line(instrument.slavePath))
        await host.close()
        await instrument.close()
    }

    @Test func libserialportReportsACleanErrorForAPseudoTerminal() async throws {
        let instrument = try PseudoTerminal()
        #expect(
            await kind {
                _ = try SerialPortTransport(line: line(instrument.slavePath), backend: .libserialport)
            }
                == .openFailed)
        await instrument.close()
    }

    @Test func automaticBackendOpensASymlinkedPseudoTerminalWithTermios() async throws {
        let instrument = try PseudoTerminal()
        let link = "/tmp/cellrig-serial-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        #expect(symlink(instrument.slavePath, link) == 0)
        defer { unlink(link) }
        let host = try openSerialPort(line(link))
        #expect(host.backend == .termios)
        #expect(host.portDescription == instrument.slavePath)
        try await instrument.send(Array("ok".utf8))
        #expect(try await receive(2, from: host) == Array("ok".utf8))
        await host.close()
        await instrument.close()
    }
}

@Suite struct InterByteTimeoutTests {
    @Test func bytesArrivingWithinTheInterByteTimeoutAreCollectedIntoOneChunk() async throws {
        let instrument = try PseudoTerminal()
        let host = try SerialPortTransport(
            line: SerialLineConfiguration(port: instrument.slavePath, baudRate: 19200), backend: .termios)
        let reader = Task {
            try await host.receive(maxCount: 4, timeouts: ReceiveTimeouts(reply: .seconds(10), interByte: .seconds(10)))
        }
        try await instrument.send([0x01, 0x03])
        try await Task.sleep(for: .milliseconds(20))
        try await instrument.send([0x04, 0x05])
        #expect(try await reader.value == [0x01, 0x03, 0x04, 0x05])
        await host.close()
        await instrument.close()
    }
}
