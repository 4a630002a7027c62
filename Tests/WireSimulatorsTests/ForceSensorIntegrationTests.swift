import Domain
import InstrumentDrivers
import Instruments
import SerialTransport
import Testing
import Transport
import WireSimulators

private func tty(_ port: SimulatedPort, baudRate: Int) throws -> SerialPortTransport {
    try SerialPortTransport(path: port.path, settings: SerialSettings(baudRate: baudRate), backend: .termios)
}

@Suite struct Mark10IntegrationTests {
    @Test func gaugeInPoundsIsReadInNewtonsAndZeroes() async throws {
        let port = try SimulatedPort.start(Mark10Simulator(device: .init(decimals: 3)) { 250 })
        // Roomy timeout: the whole suite runs in parallel on two cores.
        let gauge = Mark10ForceGauge(
            transport: try tty(port, baudRate: 115_200), options: .init(replyTimeout: .seconds(5)))
        #expect(try await gauge.identify().model == "Mark-10 M5-200")
        let force = try await gauge.readForce_N()
        #expect(abs(force - 250) < 0.003 * 4.45)
        let pressure = StackPressureCalibration(pelletArea_cm2: 1).pressure_MPa(force_N: force)
        #expect(abs(pressure - 2.5) < 1e-3)
        try await gauge.zero()
        #expect(try await gauge.readForce_N() == 0)
        await gauge.close()
        await port.stop()
    }

    @Test func unknownCommandsGetTheIllegalCommandError() async throws {
        let port = try SimulatedPort.start(Mark10Simulator { 1 })
        let channel = LineChannel(
            transport: try tty(port, baudRate: 115_200), framing: Mark10ForceGauge.framing, outgoingTerminator: "\r\n")
        try await channel.send(line: "FOO")
        #expect(try await channel.readLine(timeout: .seconds(5)) == "*10")
        try await channel.send(line: "N")
        try await channel.send(line: "?")
        #expect(try await channel.readLine(timeout: .seconds(5)) == "1.00 N")
        await channel.close()
        await port.stop()
    }
}

@Suite struct ModbusLoadCellIntegrationTests {
    let map = ModbusRegisterMap(
        model: "CAS CI-600D", stationAddress: 3, register: 7, valueType: .int32, wordOrder: .highWordFirst,
        newtonsPerCount: 0.01, zeroCommand: .init(register: 0, value: 1))

    private func simulator(faults: ModbusLoadCellSimulator.Faults = .init()) -> ModbusLoadCellSimulator {
        let map = self.map
        return ModbusLoadCellSimulator(
            layout: .init(stationAddress: 3, register: 7) { map.registers(force_N: $0) }, extraRegisters: [0: 0],
            faults: faults
        ) { 712.34 }
    }

    @Test func readsForceAndWritesZeroOverAPseudoTerminal() async throws {
        let simulator = simulator()
        let port = try SimulatedPort.start(simulator)
        let cell = ModbusLoadCell(transport: try tty(port, baudRate: ModbusLoadCell.defaultBaudRate), map: map)
        #expect(abs(try await cell.readForce_N() - 712.34) < 1e-9)
        try await cell.zero()
        #expect(await simulator.writes == [0: 1])
        await cell.close()
        await port.stop()
    }

    @Test func survivesCorruptedAndMissingReplies() async throws {
        let port = try SimulatedPort.start(simulator(faults: .init(corruptEveryNthReply: 2, ignoreEveryNthRequest: 3)))
        let cell = ModbusLoadCell(
            transport: try tty(port, baudRate: 19200), map: map, replyTimeout: .milliseconds(1500), attempts: 6)
        for _ in 0..<4 { #expect(abs(try await cell.readForce_N() - 712.34) < 1e-9) }
        await cell.close()
        await port.stop()
    }

    @Test func wrongStationAddressTimesOut() async throws {
        let port = try SimulatedPort.start(simulator())
        var wrong = map
        wrong.stationAddress = 4
        let cell = ModbusLoadCell(
            transport: try tty(port, baudRate: 19200), map: wrong, replyTimeout: .milliseconds(100), attempts: 1)
        await #expect(throws: InstrumentError.self) { try await cell.readForce_N() }
        await cell.close()
        await port.stop()
    }
}
