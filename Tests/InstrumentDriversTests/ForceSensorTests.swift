import Domain
import InstrumentDrivers
import Instruments
import Testing
import Transport

private func code(of operation: () async throws -> Void) async -> InstrumentError.Code? {
    do {
        try await operation()
        return nil
    } catch let error as InstrumentError {
        return error.code
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite struct StackPressureCalibrationTests {
    @Test func hundredNewtonsOnOneSquareCentimetreIsOneMegapascal() {
        #expect(StackPressureCalibration(pelletArea_cm2: 1).pressure_MPa(force_N: 100) == 1)
    }

    @Test func scaleAndOffsetApplyBeforeDividingByTheArea() {
        let calibration = StackPressureCalibration(pelletArea_cm2: 0.5, scale: 1.02, offset_N: -2)
        #expect(abs(calibration.pressure_MPa(force_N: 250) - (255 - 2) / 50) < 1e-12)
        #expect(abs(calibration.force_N(pressure_MPa: calibration.pressure_MPa(force_N: 250)) - 250) < 1e-9)
    }
}

@Suite struct Mark10ForceGaugeTests {
    @Test func readsNewtonsAndConvertsOtherUnits() async throws {
        let transport = ScriptedTransport([
            .expect("?\r"), .reply("4.285 N\r\n"),
            .expect("?\r"), .reply("-18.78 lbF\r\n"),
            .expect("?\r"), .reply("250 mN\r\n"),
        ])
        let gauge = Mark10ForceGauge(transport: transport)
        #expect(try await gauge.readForce_N() == 4.285)
        #expect(abs(try await gauge.readForce_N() - -83.537_601_934_6) < 1e-6)
        #expect(abs(try await gauge.readForce_N() - 0.25) < 1e-12)
        try await transport.verifyFinished()
    }

    @Test func identifiesFromPersonalityCommands() async throws {
        let transport = ScriptedTransport([
            .expect("RM\r"), .reply("M5-200\r\n"), .expect("RV\r"), .reply("1.05\r\n"), .expect("RS\r"),
            .reply("123456\r\n"),
        ])
        let identity = try await Mark10ForceGauge(transport: transport).identify()
        #expect(
            identity
                == InstrumentIdentity(
                    role: "pressure", model: "Mark-10 M5-200", firmware: "1.05", serialNumber: "123456",
                    port: "scripted"))
        try await transport.verifyFinished()
    }

    @Test func errorRepliesAndUnknownUnitsAreRejected() async throws {
        let transport = ScriptedTransport([
            .expect("?\r"), .reply("*10\r\n"), .expect("?\r"), .reply("12.5 furlongs\r\n"),
        ])
        let gauge = Mark10ForceGauge(transport: transport)
        #expect(await code { _ = try await gauge.readForce_N() } == .rejected)
        #expect(await code { _ = try await gauge.readForce_N() } == .invalidReply)
        try await transport.verifyFinished()
    }

    @Test func unlabelledReadingsUseTheConfiguredUnitAndPolarity() async throws {
        let transport = ScriptedTransport([.expect("Z\r"), .expect("?\r"), .reply("\r\n2.00\r\n")])
        let gauge = Mark10ForceGauge(
            transport: transport, options: .init(compressionIsPositive: false, newtonsPerUnitWhenUnlabelled: 9.80665))
        try await gauge.zero()
        #expect(try await gauge.readForce_N() == -19.6133)
        try await transport.verifyFinished()
    }

    @Test func silentGaugeIsATimeout() async throws {
        let gauge = Mark10ForceGauge(transport: ScriptedTransport([.expect("?\r")]))
        #expect(await code { _ = try await gauge.readForce_N() } == .timeout)
    }
}

@Suite struct ModbusRegisterMapTests {
    @Test(arguments: [ModbusRegisterMap.WordOrder.highWordFirst, .lowWordFirst])
    func float32RoundTripsInBothWordOrders(order: ModbusRegisterMap.WordOrder) {
        let map = ModbusRegisterMap(
            model: "m", register: 0, valueType: .float32, wordOrder: order, newtonsPerCount: 9.80665)
        let registers = map.registers(force_N: 98.0665)
        #expect(registers == (order == .highWordFirst ? [0x4120, 0x0000] : [0x0000, 0x4120]))
        #expect(abs(map.force_N(registers: registers)! - 98.0665) < 1e-4)
    }

    @Test func signedIntegersDecodeNegativeForces() {
        let int16 = ModbusRegisterMap(model: "m", register: 0, valueType: .int16, newtonsPerCount: 0.1)
        #expect(int16.force_N(registers: [0xFF38]) == -20)
        let int32 = ModbusRegisterMap(
            model: "m", register: 0, valueType: .int32, wordOrder: .lowWordFirst, newtonsPerCount: 0.01)
        #expect(int32.force_N(registers: [0xFFFE, 0xFFFF]) == -0.02)
        let uint16 = ModbusRegisterMap(model: "m", register: 0, valueType: .uint16, newtonsPerCount: 1)
        #expect(uint16.force_N(registers: [0xFF38]) == 65336)
        #expect(uint16.force_N(registers: [1, 2]) == nil)
    }
}

@Suite struct ModbusLoadCellTests {
    let map = ModbusRegisterMap(
        model: "Eagle EI-1000", register: 0x1000, valueType: .float32, newtonsPerCount: 1,
        zeroCommand: .init(register: 1, value: 2))
    let request: [UInt8] = [0x01, 0x03, 0x10, 0x00, 0x00, 0x02, 0xC0, 0xCB]
    let reply100N: [UInt8] = [0x01, 0x03, 0x04, 0x42, 0xC8, 0x00, 0x00, 0x6F, 0xB5]

    @Test func readsTheForceRegisters() async throws {
        let transport = ScriptedTransport([
            .expect(request), .reply(Array(reply100N.prefix(4))), .reply(Array(reply100N.dropFirst(4))),
        ])
        #expect(try await ModbusLoadCell(transport: transport, map: map).readForce_N() == 100)
        try await transport.verifyFinished()
    }

    @Test func corruptedReplyIsDiscardedAndTheRequestRetried() async throws {
        var corrupted = reply100N
        corrupted[8] ^= 0xFF
        let transport = ScriptedTransport([.expect(request), .reply(corrupted), .expect(request), .reply(reply100N)])
        #expect(try await ModbusLoadCell(transport: transport, map: map).readForce_N() == 100)
        try await transport.verifyFinished()
    }

    @Test func replyFromAnotherStationIsIgnored() async throws {
        let other: [UInt8] = [0x02, 0x03, 0x04, 0x42, 0xC8, 0x00, 0x00, 0x5C, 0xB5]
        let transport = ScriptedTransport([.expect(request), .reply(other), .expect(request), .expect(request)])
        let cell = ModbusLoadCell(transport: transport, map: map)
        #expect(await code { _ = try await cell.readForce_N() } == .timeout)
        try await transport.verifyFinished()
    }

    @Test func exceptionReplyIsARejection() async throws {
        let transport = ScriptedTransport([.expect(request), .reply([0x01, 0x83, 0x02, 0xC0, 0xF1])])
        let cell = ModbusLoadCell(transport: transport, map: map)
        #expect(await code { _ = try await cell.readForce_N() } == .rejected)
        try await transport.verifyFinished()
    }

    @Test func zeroWritesTheMapsCommandRegister() async throws {
        let write: [UInt8] = [0x01, 0x06, 0x00, 0x01, 0x00, 0x02, 0x59, 0xCB]
        let transport = ScriptedTransport([.expect(write), .reply(write)])
        try await ModbusLoadCell(transport: transport, map: map).zero()
        try await transport.verifyFinished()
    }

    @Test func inputRegisterInt16AtAnotherStation() async throws {
        let input = ModbusRegisterMap(
            model: "meter", stationAddress: 7, readFunction: .readInputRegisters, register: 8, valueType: .int16,
            newtonsPerCount: 0.5)
        let transport = ScriptedTransport([
            .expect([0x07, 0x04, 0x00, 0x08, 0x00, 0x01, 0xB0, 0x6E]),
            .reply([0x07, 0x04, 0x02, 0xFF, 0x38, 0x71, 0x12]),
        ])
        #expect(try await ModbusLoadCell(transport: transport, map: input).readForce_N() == -100)
        try await transport.verifyFinished()
    }
}
