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

/// `N` then `LIST` before the first reading, the gauge confirming newtons.
private let newtonsConfirmed: [ScriptedTransport.Step] = [
    .expect("N\r"), .expect("LIST\r"), .reply("V1.00;N;CUR;FLTC8;FLTP1;AOUT00;AOFF5;FULL;MIT;POL;B0\r\n"),
]

/// A Mark-10 driver on `transport` with the rig file's defaults, adjusted by `adjust`.
private func gauge(
    _ transport: ScriptedTransport, adjust: (inout Mark10Configuration) -> Void = { _ in }
) -> Mark10ForceGauge {
    var configuration = Mark10Configuration(line: SerialLineConfiguration(port: "scripted", baudRate: 115_200))
    adjust(&configuration)
    return Mark10ForceGauge(transport: transport, configuration: configuration)
}

@Suite struct Mark10ForceGaugeTests {
    @Test func readsNewtonsAndConvertsOtherUnits() async throws {
        let transport = ScriptedTransport(
            newtonsConfirmed + [
                .expect("?\r"), .reply("4.285 N\r\n"),
                .expect("?\r"), .reply("-18.78 lbF\r\n"),
                .expect("?\r"), .reply("250 mN\r\n"),
            ])
        let gauge = gauge(transport)
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
        let identity = try await gauge(transport).identify()
        #expect(
            identity
                == InstrumentIdentity(
                    role: "pressure", model: "Mark-10 M5-200", firmware: "1.05", serialNumber: "123456",
                    port: "scripted"))
        try await transport.verifyFinished()
    }

    @Test func errorRepliesAndUnknownUnitsAreRejected() async throws {
        let transport = ScriptedTransport(
            newtonsConfirmed + [.expect("?\r"), .reply("*10\r\n"), .expect("?\r"), .reply("12.5 furlongs\r\n")])
        let gauge = gauge(transport)
        #expect(await code { _ = try await gauge.readForce_N() } == .rejected)
        #expect(await code { _ = try await gauge.readForce_N() } == .invalidReply)
        try await transport.verifyFinished()
    }

    @Test func invertedPolarityIsMappedToCompressionPositive() async throws {
        let transport = ScriptedTransport(
            [.expect("Z\r")] + newtonsConfirmed + [.expect("?\r"), .reply("\r\n19.61\r\n")])
        let gauge = gauge(transport) { $0.compressionIsPositive = false }
        try await gauge.zero()
        #expect(try await gauge.readForce_N() == -19.61)
        try await transport.verifyFinished()
    }

    @Test func silentGaugeIsATimeout() async throws {
        let gauge = gauge(ScriptedTransport([.expect("N\r"), .expect("LIST\r")]))
        #expect(await code { _ = try await gauge.readForce_N() } == .timeout)
    }
}

/// A gauge out of its box: pounds-force, and (in these tests) the numeric-only data format.
@Suite("Mark-10 as it is: transcripts")
struct Mark10AsItIsTests {
    @Test("a gauge in lbF sending bare numbers is set to newtons and confirmed before its first reading")
    func poundsAndNumericOnly() async throws {
        let transport = ScriptedTransport(
            newtonsConfirmed + [.expect("?\r"), .reply("196.25\r\n"), .expect("?\r"), .reply("196.30\r\n")])
        let gauge = gauge(transport)
        #expect(try await gauge.readForce_N() == 196.25)
        #expect(try await gauge.readForce_N() == 196.3, "set once, not before every reading")
        try await transport.verifyFinished()
    }

    @Test("a gauge still in lbF after N is refused, naming what LIST said")
    func unitThatDoesNotChangeIsRefused() async throws {
        let transport = ScriptedTransport([
            .expect("N\r"), .expect("LIST\r"), .reply("V1.00;LBF;CUR;FLTC8;FLTP1;AOUT00;AOFF5;FULL;MIT;POL;B0\r\n"),
        ])
        do {
            _ = try await gauge(transport).readForce_N()
            Issue.record("a gauge in lbF must not be read as newtons")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("LBF"), "\(error.message)")
        }
        try await transport.verifyFinished()
    }

    @Test("without LIST, labelled readings are converted and a bare number is refused, never taken as newtons")
    func gaugeWithoutList() async throws {
        let transport = ScriptedTransport([
            .expect("N\r"), .expect("LIST\r"), .reply("*10\r\n"),
            .expect("?\r"), .reply("44.12 lbF\r\n"), .expect("?\r"), .reply("44.12\r\n"),
        ])
        let gauge = gauge(transport)
        #expect(abs(try await gauge.readForce_N() - 44.12 * 4.448_221_615_260_5) < 1e-9)
        do {
            _ = try await gauge.readForce_N()
            Issue.record("a bare number of unknown unit must be refused")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected)
            #expect(error.message.contains("include units"), "\(error.message)")
        }
        try await transport.verifyFinished()
    }

    @Test("a gauge that refuses N (not applicable) is refused plainly")
    func refusedUnit() async throws {
        let transport = ScriptedTransport([
            .expect("N\r"), .expect("LIST\r"),
            .reply("*11\r\nV1.00;LBF;CUR;FLTC8;FLTP1;AOUT00;AOFF5;FULL;MIT;POL;B0\r\n"),
        ])
        do {
            _ = try await gauge(transport).readForce_N()
            Issue.record("expected the refusal")
        } catch let error as InstrumentError {
            #expect(error.code == .rejected && error.message.contains("*11 not applicable"), "\(error.message)")
        }
        try await transport.verifyFinished()
    }

    @Test(
        "garbled, truncated, nan and overload replies are invalid replies naming what came",
        arguments: [
            [0x15, 0x02] + Array("1.2 N\r\n".utf8), Array("12.5 l\r\n".utf8), Array("nan N\r\n".utf8),
            Array("OVERLOAD\r\n".utf8), Array("1.2.3\r\n".utf8),
        ])
    func spoiledReadings(reply: [UInt8]) async throws {
        let transport = ScriptedTransport(newtonsConfirmed + [.expect("?\r"), .reply(reply)])
        #expect(await code { _ = try await gauge(transport).readForce_N() } == .invalidReply)
        try await transport.verifyFinished()
    }
}

/// A Modbus load cell's map with the rig file's defaults for what the test does not name.
private func loadCell(
    register: Int, valueType: ModbusLoadCellConfiguration.ValueType,
    byteOrder: ModbusLoadCellConfiguration.ByteOrder = .abcd,
    newtonsPerCount: Double, station: Int = 1, registers: ModbusLoadCellConfiguration.RegisterKind = .holding,
    zeroCommand: ModbusLoadCellConfiguration.ZeroCommand? = nil
) -> ModbusLoadCellConfiguration {
    ModbusLoadCellConfiguration(
        line: SerialLineConfiguration(port: "scripted", baudRate: 19200, parity: .even), model: "Eagle EI-1000",
        stationAddress: station, registerKind: registers, register: register, valueType: valueType,
        byteOrder: byteOrder,
        newtonsPerCount: newtonsPerCount, zeroCommand: zeroCommand)
}

@Suite struct ModbusRegisterDecodingTests {
    // 100.0 as a float32 is 0x42C80000 (bytes A B C D = 42 C8 00 00); -123456 as an int32 is 0xFFFE1DC0.
    @Test(
        "the four byte orders transmitters use, as the registers arrive (each register high byte first on the wire)",
        arguments: [
            (ModbusLoadCellConfiguration.ByteOrder.abcd, [UInt16(0x42C8), 0x0000], [UInt16(0xFFFE), 0x1DC0]),
            (.cdab, [0x0000, 0x42C8], [0x1DC0, 0xFFFE]),
            (.badc, [0xC842, 0x0000], [0xFEFF, 0xC01D]),
            (.dcba, [0x0000, 0xC842], [0xC01D, 0xFEFF]),
        ])
    func byteOrders(order: ModbusLoadCellConfiguration.ByteOrder, float: [UInt16], integer: [UInt16]) {
        #expect(
            loadCell(register: 0, valueType: .float32, byteOrder: order, newtonsPerCount: 1).force_N(registers: float)
                == 100)
        #expect(
            loadCell(register: 0, valueType: .int32, byteOrder: order, newtonsPerCount: 0.01).force_N(
                registers: integer)
                == -1234.56)
    }

    @Test("a 16-bit value: only the byte swap matters")
    func sixteenBitValues() {
        for order in ModbusLoadCellConfiguration.ByteOrder.allCases {
            let registers: [UInt16] = order.bytesSwapped ? [0x38FF] : [0xFF38]
            #expect(
                loadCell(register: 0, valueType: .int16, byteOrder: order, newtonsPerCount: 0.1).force_N(
                    registers: registers) == -20)
        }
        #expect(loadCell(register: 0, valueType: .uint16, newtonsPerCount: 1).force_N(registers: [0xFF38]) == 65336)
        #expect(loadCell(register: 0, valueType: .uint16, newtonsPerCount: 1).force_N(registers: [1, 2]) == nil)
    }

    @Test("a mismatched byte order decodes to an absurd force, which the driver returns as decoded")
    func mismatchIsNotHidden() {
        // 196.25 N in centinewtons is 19625 = 0x00004CA9; a CDAB transmitter sends it as registers 4CA9 0000.
        let misread = loadCell(register: 0, valueType: .int32, newtonsPerCount: 0.01).force_N(registers: [
            0x4CA9, 0x0000,
        ])
        #expect(misread == Double(0x4CA9_0000) * 0.01)
        let sensor = PressureSensorConfiguration(
            driver: .modbus(loadCell(register: 0, valueType: .int32, newtonsPerCount: 0.01)),
            calibration: StackPressureCalibration(pelletArea_cm2: 0.785))
        #expect(!sensor.isPlausible(force_N: misread ?? 0), "12.9 MN is no bench clamp's force")
        #expect(sensor.isPlausible(force_N: 196.25))
        var rated = sensor
        rated.capacity_N = 1000
        #expect(
            !rated.isPlausible(force_N: 2000) && rated.isPlausible(force_N: 1050) && !rated.isPlausible(force_N: .nan))
    }
}

@Suite struct ModbusLoadCellTests {
    let configuration = loadCell(
        register: 0x1000, valueType: .float32, newtonsPerCount: 1, zeroCommand: .init(register: 1, value: 2))
    let request: [UInt8] = [0x01, 0x03, 0x10, 0x00, 0x00, 0x02, 0xC0, 0xCB]
    let reply100N: [UInt8] = [0x01, 0x03, 0x04, 0x42, 0xC8, 0x00, 0x00, 0x6F, 0xB5]

    @Test func readsTheForceRegisters() async throws {
        let transport = ScriptedTransport([
            .expect(request), .reply(Array(reply100N.prefix(4))), .reply(Array(reply100N.dropFirst(4))),
        ])
        #expect(try await ModbusLoadCell(transport: transport, configuration: configuration).readForce_N() == 100)
        try await transport.verifyFinished()
    }

    @Test func corruptedReplyIsDiscardedAndTheRequestRetried() async throws {
        var corrupted = reply100N
        corrupted[8] ^= 0xFF
        let transport = ScriptedTransport([.expect(request), .reply(corrupted), .expect(request), .reply(reply100N)])
        #expect(try await ModbusLoadCell(transport: transport, configuration: configuration).readForce_N() == 100)
        try await transport.verifyFinished()
    }

    @Test func truncatedReplyTimesOutAndTheRequestIsRetried() async throws {
        let transport = ScriptedTransport([
            .expect(request), .reply(Array(reply100N.prefix(5))), .expect(request), .reply(reply100N),
        ])
        #expect(try await ModbusLoadCell(transport: transport, configuration: configuration).readForce_N() == 100)
        try await transport.verifyFinished()
    }

    @Test("a float32 that is not a number is returned as read (the rig flags it); it is not made into an error")
    func notANumberIsReturnedAsRead() async throws {
        var nan: [UInt8] = [0x01, 0x03, 0x04, 0x7F, 0xC0, 0x00, 0x00]
        nan += crc(nan)
        let transport = ScriptedTransport([.expect(request), .reply(nan)])
        #expect(try await ModbusLoadCell(transport: transport, configuration: configuration).readForce_N().isNaN)
        try await transport.verifyFinished()
    }

    @Test func replyFromAnotherStationIsIgnored() async throws {
        let other: [UInt8] = [0x02, 0x03, 0x04, 0x42, 0xC8, 0x00, 0x00, 0x5C, 0xB5]
        let transport = ScriptedTransport([.expect(request), .reply(other), .expect(request), .expect(request)])
        let cell = ModbusLoadCell(transport: transport, configuration: configuration)
        #expect(await code { _ = try await cell.readForce_N() } == .timeout)
        try await transport.verifyFinished()
    }

    @Test(
        "exception replies are rejections: 02 illegal address, 04 server device failure (what an overloaded ADC may say)",
        arguments: [UInt8(0x02), 0x04])
    func exceptionReplyIsARejection(exception: UInt8) async throws {
        var reply: [UInt8] = [0x01, 0x83, exception]
        reply += crc(reply)
        let transport = ScriptedTransport([.expect(request), .reply(reply)])
        let cell = ModbusLoadCell(transport: transport, configuration: configuration)
        #expect(await code { _ = try await cell.readForce_N() } == .rejected)
        try await transport.verifyFinished()
    }

    @Test func zeroWritesTheMapsCommandRegister() async throws {
        let write: [UInt8] = [0x01, 0x06, 0x00, 0x01, 0x00, 0x02, 0x59, 0xCB]
        let transport = ScriptedTransport([.expect(write), .reply(write)])
        try await ModbusLoadCell(transport: transport, configuration: configuration).zero()
        try await transport.verifyFinished()
    }

    @Test func inputRegisterInt16AtAnotherStation() async throws {
        let input = loadCell(register: 8, valueType: .int16, newtonsPerCount: 0.5, station: 7, registers: .input)
        let transport = ScriptedTransport([
            .expect([0x07, 0x04, 0x00, 0x08, 0x00, 0x01, 0xB0, 0x6E]),
            .reply([0x07, 0x04, 0x02, 0xFF, 0x38, 0x71, 0x12]),
        ])
        #expect(try await ModbusLoadCell(transport: transport, configuration: input).readForce_N() == -100)
        try await transport.verifyFinished()
    }
}

/// The CRC-16/MODBUS of `bytes`, low byte first, as it follows a frame.
private func crc(_ bytes: [UInt8]) -> [UInt8] {
    Array(ModbusRTU.appendingCRC(bytes).suffix(2))
}
