import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

/// Byte-exact transcripts of the Modbus temperature controller driver. The frames, CRCs included, were written out
/// by hand from the Modbus RTU specification (CRC-16/MODBUS, low byte first) and the Eurotherm 3200 map.
@Suite struct ModbusTemperatureControllerTests {
    let eurotherm = TemperatureControllerConfiguration(
        preset: .eurotherm3200, line: SerialLineConfiguration(port: "scripted", baudRate: 9600))
    /// Read one holding register (PV.IN, address 1) at station 1.
    let readProcessValue: [UInt8] = [0x01, 0x03, 0x00, 0x01, 0x00, 0x01, 0xD5, 0xCA]
    /// 800 counts: 80.0 C with one decimal place.
    let reply80C: [UInt8] = [0x01, 0x03, 0x02, 0x03, 0x20, 0xB9, 0x6C]
    /// TG.SP (address 2) = 800.
    let writeSetpoint80C: [UInt8] = [0x01, 0x06, 0x00, 0x02, 0x03, 0x20, 0x29, 0x22]
    /// A-M (address 273) = 0, automatic.
    let enableOutput: [UInt8] = [0x01, 0x06, 0x01, 0x11, 0x00, 0x00, 0xD8, 0x33]
    /// A-M (address 273) = 2, off.
    let disableOutput: [UInt8] = [0x01, 0x06, 0x01, 0x11, 0x00, 0x02, 0x59, 0xF2]

    @Test func readsTheProcessValueScaledByItsDecimalPlaces() async throws {
        let transport = ScriptedTransport([
            .expect(readProcessValue), .reply(reply80C),
            .expect(readProcessValue), .reply([0x01, 0x03, 0x02, 0xFF, 0xC9, 0x39, 0xE2]),
        ])
        let controller = ModbusTemperatureController(transport: transport, configuration: eurotherm)
        #expect(try await controller.readTemperature_C() == 80)
        #expect(try await controller.readTemperature_C() == -5.5)
        try await transport.verifyFinished()
    }

    @Test func setpointIsWrittenThenTheOutputEnabled() async throws {
        let transport = ScriptedTransport([
            .expect(writeSetpoint80C), .reply(writeSetpoint80C), .expect(enableOutput), .reply(enableOutput),
        ])
        try await ModbusTemperatureController(transport: transport, configuration: eurotherm).setSetpoint(80)
        try await transport.verifyFinished()
    }

    @Test func disablingWritesTheOffValueAndLeavesTheSetpoint() async throws {
        let transport = ScriptedTransport([.expect(disableOutput), .reply(disableOutput)])
        try await ModbusTemperatureController(transport: transport, configuration: eurotherm).disableOutput()
        try await transport.verifyFinished()
    }

    @Test("a setpoint above the rig's max_setpoint is refused without a byte on the wire")
    func setpointAboveTheMaximumIsRefused() async throws {
        var configuration = eurotherm
        configuration.maximumSetpoint_C = 90
        let transport = ScriptedTransport([])
        let controller = ModbusTemperatureController(transport: transport, configuration: configuration)
        await #expect(throws: InstrumentError.self) { try await controller.setSetpoint(95) }
        try await transport.verifyFinished()
    }

    @Test func inputRegistersAtAnotherStationWithoutDecimals() async throws {
        var configuration = TemperatureControllerConfiguration(
            line: SerialLineConfiguration(port: "scripted", baudRate: 9600), stationAddress: 5,
            processValueKind: .input, processValueRegister: 1000, setpointRegister: 0, decimalPlaces: 0)
        configuration.signed = false
        let transport = ScriptedTransport([
            .expect([0x05, 0x04, 0x03, 0xE8, 0x00, 0x01, 0xB0, 0x3E]),
            .reply([0x05, 0x04, 0x02, 0x00, 0xFD, 0x89, 0x71]),
        ])
        let controller = ModbusTemperatureController(transport: transport, configuration: configuration)
        #expect(try await controller.readTemperature_C() == 253)
        await #expect(throws: InstrumentError.self) { try await controller.disableOutput() }
        try await transport.verifyFinished()
    }

    @Test func exceptionReplyToASetpointWriteIsARejection() async throws {
        let transport = ScriptedTransport([.expect(writeSetpoint80C), .reply([0x01, 0x86, 0x02, 0xC3, 0xA1])])
        let controller = ModbusTemperatureController(transport: transport, configuration: eurotherm)
        do {
            try await controller.setSetpoint(80)
            Issue.record("the exception was not reported")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
        }
        try await transport.verifyFinished()
    }

    @Test func registerScalingRoundsToTheResolutionAndRefusesWhatDoesNotFit() {
        #expect(eurotherm.registerValue(temperature_C: 80.04) == 800)
        #expect(eurotherm.registerValue(temperature_C: -5.5) == UInt16(bitPattern: -55))
        #expect(eurotherm.registerValue(temperature_C: 4000) == nil)
        #expect(eurotherm.temperature_C(register: 0xFFC9) == -5.5)
    }
}
