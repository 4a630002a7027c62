import Domain
import InstrumentDrivers
import Instruments
import SerialTransport
import Testing
import Transport
import WireSimulators

private func tty(_ port: SimulatedPort, baudRate: Int) throws -> SerialPortTransport {
    try SerialPortTransport(line: SerialLineConfiguration(port: port.path, baudRate: baudRate))
}

/// The Mark-10 driver on the simulator's pseudo-terminal, with a 30 s reply timeout for a loaded machine.
private func gauge(on port: SimulatedPort, compressionIsPositive: Bool = true) throws -> Mark10ForceGauge {
    let configuration = Mark10Configuration(
        line: SerialLineConfiguration(port: port.path, baudRate: 115_200),
        compressionIsPositive: compressionIsPositive, replyTimeout_s: 30)
    return Mark10ForceGauge(transport: try tty(port, baudRate: 115_200), configuration: configuration)
}

@Suite struct Mark10IntegrationTests {
    @Test(
        "a gauge powered on in pounds-force, with or without units in its readings, is read in newtons",
        arguments: [true, false])
    func gaugeInPoundsIsReadInNewtonsAndZeroes(unitsInReadings: Bool) async throws {
        let simulator = Mark10Simulator(device: .init(unitsInReadings: unitsInReadings, decimals: 3)) { 250 }
        let port = try SimulatedPort.start(simulator)
        let gauge = try gauge(on: port)
        #expect(try await gauge.identify().model == "Mark-10 M5-200")
        #expect(await simulator.unit == "LB", "the gauge powers on in pounds-force")
        let force = try await gauge.readForce_N()
        #expect(await simulator.unit == "N", "the driver set it to newtons")
        #expect(abs(force - 250) < 0.001)
        let pressure = StackPressureCalibration(pelletArea_cm2: 1).pressure_MPa(force_N: force)
        #expect(abs(pressure - 2.5) < 1e-5)
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
        #expect(try await channel.readLine(timeout: .seconds(30)) == "*10")
        try await channel.send(line: "LIST")
        #expect(try await channel.readLine(timeout: .seconds(30)).hasPrefix("V1.05;LBF;"))
        try await channel.send(line: "N")
        try await channel.send(line: "?")
        #expect(try await channel.readLine(timeout: .seconds(30)) == "1.00 N")
        await channel.close()
        await port.stop()
    }
}

/// The load cell's map as a rig file gives it.
private func loadCell(
    byteOrder: ModbusLoadCellConfiguration.ByteOrder = .abcd, station: Int = 3, replyTimeout_s: Double = 30
) -> ModbusLoadCellConfiguration {
    ModbusLoadCellConfiguration(
        line: SerialLineConfiguration(port: "unused", baudRate: 19200), model: "CAS CI-600D", stationAddress: station,
        register: 7, valueType: .int32, byteOrder: byteOrder, newtonsPerCount: 0.01,
        zeroCommand: .init(register: 0, value: 1), replyTimeout_s: replyTimeout_s)
}

@Suite struct ModbusLoadCellIntegrationTests {
    private func simulator(
        byteOrder: ModbusLoadCellConfiguration.ByteOrder = .abcd,
        valueType: ModbusLoadCellConfiguration.ValueType = .int32,
        faults: ModbusLoadCellSimulator.Faults = .init()
    ) -> ModbusLoadCellSimulator {
        ModbusLoadCellSimulator(
            layout: .init(
                stationAddress: 3, register: 7, valueType: valueType, byteOrder: byteOrder, newtonsPerCount: 0.01),
            extraRegisters: [0: 0], faults: faults
        ) { 712.34 }
    }

    @Test func readsForceAndWritesZeroOverAPseudoTerminal() async throws {
        let simulator = simulator()
        let port = try SimulatedPort.start(simulator)
        let cell = ModbusLoadCell(transport: try tty(port, baudRate: 19200), configuration: loadCell())
        #expect(abs(try await cell.readForce_N() - 712.34) < 1e-9)
        try await cell.zero()
        #expect(await simulator.writes == [0: 1])
        await cell.close()
        await port.stop()
    }

    @Test(
        "a transmitter in any byte order is read right when the rig names that order, and absurdly when not",
        arguments: ModbusLoadCellConfiguration.ByteOrder.allCases)
    func everyByteOrder(order: ModbusLoadCellConfiguration.ByteOrder) async throws {
        let port = try SimulatedPort.start(simulator(byteOrder: order))
        let transport = try tty(port, baudRate: 19200)
        #expect(
            abs(
                try await ModbusLoadCell(transport: transport, configuration: loadCell(byteOrder: order)).readForce_N()
                    - 712.34) < 1e-9)
        for other in ModbusLoadCellConfiguration.ByteOrder.allCases where other != order {
            let misread = try await ModbusLoadCell(transport: transport, configuration: loadCell(byteOrder: other))
                .readForce_N()
            #expect(abs(misread - 712.34) > 1, "\(order) read as \(other) gave \(misread) N")
        }
        await transport.close()
        await port.stop()
    }

    @Test func survivesCorruptedAndMissingReplies() async throws {
        let port = try SimulatedPort.start(simulator(faults: .init(corruptEveryNthReply: 2, ignoreEveryNthRequest: 3)))
        let cell = ModbusLoadCell(
            transport: try tty(port, baudRate: 19200), configuration: loadCell(replyTimeout_s: 3), attempts: 6)
        for _ in 0..<4 { #expect(abs(try await cell.readForce_N() - 712.34) < 1e-9) }
        await cell.close()
        await port.stop()
    }

    @Test func wrongStationAddressTimesOut() async throws {
        let port = try SimulatedPort.start(simulator())
        let cell = ModbusLoadCell(
            transport: try tty(port, baudRate: 19200), configuration: loadCell(station: 4, replyTimeout_s: 0.1),
            attempts: 1)
        await #expect(throws: InstrumentError.self) { try await cell.readForce_N() }
        await cell.close()
        await port.stop()
    }
}
