// fuzz_make_corpus DIR [TRACE.json.gz]: writes the seed corpus of every fuzz
// target into DIR/<target>/ (tests/fuzz/corpus), replacing the files there.
//
// Seeds are small, real inputs made by the real encoders (and a recorded
// real sync between two real nodes), in each target's input layout (see the
// comment at the top of each fuzz_<target>.cc), plus a few invalid ones at
// the edges. Keys are the fixed keys of fuzz_support.h and randomness is
// seeded, so a run writes the same bytes every time and the targets derive
// the same keys: a seed reaches past signatures, tags and checksums.
//
// With TRACE (an editing trace of josephg/editing-traces), the trace
// target's seeds include the beginning of that real trace.
#include <zlib.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/export/document.h"
#include "core/codec/codec.h"
#include "core/crdt/text.h"
#include "core/feed/record.h"
#include "net/beacon.h"
#include "net/invite_code.h"
#include "net/pairing.h"
#include "net/relay/protocol.h"
#include "net/sync_session.h"
#include "relay.pb.h"
#include "sync.pb.h"
#include "tests/export/sample_document.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/sync_world.h"

namespace hearth::fuzz {
namespace {

namespace fs = std::filesystem;
namespace noise = net::noise;

fs::path out_dir;
std::size_t files_written = 0, bytes_written = 0;

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes Cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) Append(out, p);
  return out;
}

Bytes Pieced(std::uint8_t mode, const std::vector<Bytes>& pieces, std::size_t width) {
  Bytes out{mode};
  for (const Bytes& p : pieces) AppendPiece(out, p, width);
  return out;
}

// Starts DIR/target afresh (hidden files, such as .gitkeep, stay).
void Clear(const std::string& target) {
  const fs::path dir = out_dir / target;
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && !entry.path().filename().string().starts_with(".")) fs::remove(entry.path());
  }
}

void Put(const std::string& target, const std::string& name, ByteView bytes) {
  std::ofstream out(out_dir / target / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz_make_corpus: cannot write %s/%s\n", target.c_str(), name.c_str());
    std::exit(1);
  }
  ++files_written;
  bytes_written += bytes.size();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fuzz_make_corpus: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.error().message);
  return std::move(r).value();
}

// ---- ops, records, texts ----

std::vector<model::Op> SampleOps(model::MemberId author) {
  using namespace model;
  const ItemId entry = 0x1000000000000001ull, checkin = 0x1000000000000002ull;
  std::vector<Op> ops;
  auto op = [&](ItemId item, OpBody body) { ops.push_back(Op{0x0190000000000000ull + ops.size(), item, std::move(body)}); };
  op(entry, CreateItem{Kind::kEntry, author, false});
  op(entry, SetField{Field::kTitle, std::string("Title")});
  op(entry, SetField{Field::kMood, std::int64_t{4}});
  op(entry, SetField{Field::kDhKey, Bytes(32, 9)});
  op(entry, AddTag{"home"});
  op(entry, RemoveTag{"home", {Stamp{0x0190000000000004ull, 7}}});
  op(entry, InsertText{TextSlot{Field::kText, 0, 0}, 0, std::nullopt, std::nullopt, "héllo 🌱"});
  op(entry, InsertText{TextSlot{Field::kText, 0, 0}, 7, crdt::CharId{7, 6}, std::nullopt, "!"});
  op(entry, DeleteText{TextSlot{Field::kText, 0, 0}, crdt::CharId{7, 1}, 2});
  op(entry, SetFollowThrough{"2026-W47", true, "done"});
  op(checkin, CreateItem{Kind::kCheckin, author, false});
  op(checkin, SetField{Field::kPeriod, std::string("2026-W47")});
  op(checkin, SetAnswer{author, 0, "7"});
  op(checkin, InsertText{TextSlot{Field::kAnswer, author, 1}, 0, std::nullopt, std::nullopt, "A walk."});
  op(checkin, SealAnswers{author, Bytes(64, 3)});
  op(checkin, RevealKey{author, Bytes(32, 5)});
  return ops;
}

std::string SampleText(bool big) {
  crdt::Text t;
  (void)t.Insert(1, 0, U"Hello world");
  (void)t.Insert(2, 5, U", dear");
  t.Delete(0, 1);
  (void)t.Insert(1, 0, U"h");
  if (big) {
    std::u32string para;
    for (int i = 0; i < 300; ++i) para += U"Words go here. ";
    (void)t.Insert(2, t.size(), para);
  }
  // A remote op whose origin has not arrived: kept parked in the encoding.
  (void)t.Apply(crdt::InsertOp{crdt::CharId{3, 5}, crdt::CharId{3, 4}, std::nullopt, U"?"});
  return t.Encode(true, big);
}

void RecordsCorpus(const std::vector<Bytes>& real_plaintexts, model::MemberId author) {
  Clear("records");
  const crypto::SymmetricKey record_key = feed::RecordKey(FixedSymmetricKey("space-key"));
  const crypto::SigningKey signer = FixedSigningKey("feed");
  const Bytes batch = codec::EncodeOpBatch(SampleOps(author));
  const feed::Record one = feed::Seal(signer, record_key, feed::Scope::kShared, 1, {}, batch);
  Put("records", "record-signed", Cat({Bytes{0}, one.body}));
  Bytes bad_version = one.body;
  bad_version[0] = 2;
  Put("records", "record-bad-version", Cat({Bytes{0}, bad_version}));
  Put("records", "record-truncated", Cat({Bytes{0}, ByteView(one.body).first(feed::kHeaderSize + 3)}));
  const feed::Record priv = feed::Seal(signer, record_key, feed::Scope::kPrivate, 9, {}, B("not ops"));
  Put("records", "record-private-not-ops", Cat({Bytes{0}, priv.body}));

  // A feed: two unsigned records, then one whose signature covers them.
  std::vector<Bytes> pieces;
  crypto::Digest prev{};
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    const feed::Record r = feed::Seal(signer, record_key, feed::Scope::kShared, seq, prev,
                                      seq == 2 ? codec::EncodeOpBatch({}) : batch,
                                      seq == 3 ? feed::Signing::kSign : feed::Signing::kUnsigned);
    prev = feed::RecordHash(r.body);
    Bytes piece{static_cast<std::uint8_t>(r.signature ? 1 : 0)};
    if (r.signature) Append(piece, *r.signature);
    Append(piece, r.body);
    pieces.push_back(piece);
  }
  Put("records", "feed-three-records", Pieced(1, pieces, 4));
  pieces.back()[5] ^= 1;  // a signature byte
  Put("records", "feed-bad-signature", Pieced(1, pieces, 4));

  Put("records", "ops-every-kind", Cat({Bytes{2}, batch}));
  Put("records", "ops-empty", Bytes{2});
  std::size_t n = 0;
  for (const Bytes& p : real_plaintexts) {
    // Real op batches and real stored items, from a node: each in both modes
    // (it decodes in one of them).
    if (p.size() > 16 * 1024 || n >= 12) continue;
    Put("records", "node-plaintext-" + std::to_string(n) + "-as-ops", Cat({Bytes{2}, p}));
    Put("records", "node-plaintext-" + std::to_string(n) + "-as-item", Cat({Bytes{3}, p}));
    ++n;
  }
  model::Item item;
  item.id = 0x1000000000000001ull;
  for (const model::Op& op : SampleOps(author)) {
    if (op.item == item.id) model::Apply(item, op, 7);
  }
  Put("records", "item-applied", Cat({Bytes{3}, codec::EncodeItem(item)}));
  Put("records", "text-small", Cat({Bytes{4}, B(SampleText(false))}));
  Put("records", "text-deflated", Cat({Bytes{4}, B(SampleText(true))}));
  Put("records", "text-empty", Cat({Bytes{4}, B(crdt::Text().Encode())}));
}

// ---- Noise and frames ----

void NoiseCorpus() {
  Clear("noise");
  const noise::Pattern patterns[] = {noise::Pattern::kXX, noise::Pattern::kXXpsk3, noise::Pattern::kNK,
                                     noise::Pattern::kIK, noise::Pattern::kKK};
  const char* names[] = {"xx", "xxpsk3", "nk", "ik", "kk"};
  for (int p = 0; p < 5; ++p) {
    for (int r = 0; r < 2; ++r) {
      const noise::Role role = r == 0 ? noise::Role::kInitiator : noise::Role::kResponder;
      const noise::Role other = r == 0 ? noise::Role::kResponder : noise::Role::kInitiator;
      auto us = Must(StartFixedHandshake(patterns[p], role), "a fixed handshake");
      auto peer = Must(StartFixedHandshake(patterns[p], other), "a fixed handshake");
      std::vector<Bytes> pieces;
      while (!us.Finished()) {
        if (us.IsMyTurn()) {
          (void)Must(peer.ReadMessage(Must(us.WriteMessage(FixedPayload()), "write")), "read");
        } else {
          const Bytes m = Must(peer.WriteMessage(B("peer payload")), "write");
          (void)Must(us.ReadMessage(m), "read");
          pieces.push_back(m);
        }
      }
      auto transport = Must(peer.Split(), "split");
      pieces.push_back(Must(transport.send.Encrypt({}, B("first transport message")), "encrypt"));
      pieces.push_back(Must(transport.send.Encrypt({}, {}), "encrypt"));
      const auto selector = static_cast<std::uint8_t>(p + 5 * r);
      const std::string base = std::string(names[p]) + (r == 0 ? "-initiator" : "-responder");
      Put("noise", base + "-whole", Pieced(selector, pieces, 2));
      Bytes flipped = pieces.front();
      flipped.back() ^= 0x80;
      Put("noise", base + "-first-message-tampered", Pieced(selector, {flipped}, 2));
      Put("noise", base + "-first-message-short", Pieced(selector, {Bytes(pieces.front().begin(),
                                                                         pieces.front().begin() + 31)}, 2));
    }
  }
  // A low-order point as the peer's ephemeral key.
  Put("noise", "xx-responder-low-order-e", Pieced(5, {Bytes(32, 0)}, 2));
}

// The wire form of application messages, as SecureChannel::Send writes it.
Bytes SealStream(noise::CipherState& send, const std::vector<Bytes>& messages) {
  Bytes wire;
  for (const Bytes& m : messages) {
    Bytes stream;
    PutU32Be(stream, static_cast<std::uint32_t>(m.size()));
    Append(stream, m);
    for (std::size_t off = 0; off < stream.size(); off += noise::CipherState::kMaxPlaintextSize) {
      const std::size_t n = std::min(noise::CipherState::kMaxPlaintextSize, stream.size() - off);
      const Bytes ct = Must(send.Encrypt({}, ByteView(stream).subspan(off, n)), "encrypt");
      AppendPiece(wire, ct, 2);
    }
  }
  return wire;
}

void FramesCorpus() {
  Clear("frames");
  Put("frames", "raw-empty", Bytes{0});
  Bytes frames{0};
  AppendPiece(frames, {}, 2);
  AppendPiece(frames, B("hello"), 2);
  AppendPiece(frames, Bytes(300, 'x'), 2);
  Put("frames", "raw-three-frames", frames);
  Put("frames", "raw-frame-cut-short", Bytes{0, 0, 10, 'a', 'b', 'c'});
  Put("frames", "raw-half-a-length", Bytes{0, 0xff});

  {
    auto t = Must(MakeFixedTransports(), "fixed transports");
    Put("frames", "channel-three-messages",
        Cat({Bytes{1}, SealStream(t.initiator.send, {B("hello"), Bytes{}, Bytes(1000, 'm')})}));
  }
  {
    auto t = Must(MakeFixedTransports(), "fixed transports");
    Put("frames", "channel-message-over-two-noise-messages",
        Cat({Bytes{1}, SealStream(t.initiator.send, {Bytes(70000, 'l')})}));
  }
  {
    auto t = Must(MakeFixedTransports(), "fixed transports");
    Bytes wire = SealStream(t.initiator.send, {B("tampered")});
    wire[5] ^= 1;
    Put("frames", "channel-tampered", Cat({Bytes{1}, wire}));
  }
  {
    auto t = Must(MakeFixedTransports(), "fixed transports");
    Bytes huge_length;
    PutU32Be(huge_length, 5u << 20);
    const Bytes ct = Must(t.initiator.send.Encrypt({}, huge_length), "encrypt");
    Bytes wire{1};
    AppendPiece(wire, ct, 2);
    Put("frames", "channel-length-over-the-limit", wire);
  }
  // Mode 2: plaintext of the stream in pieces cut at odd places.
  Bytes stream;
  for (const Bytes& m : {B("one"), Bytes{}, Bytes(100, 't')}) {
    PutU32Be(stream, static_cast<std::uint32_t>(m.size()));
    Append(stream, m);
  }
  const ByteView s(stream);
  Bytes cut{2, 0};  // mode, no limit beyond the transport's
  AppendPiece(cut, s.first(2), 2);
  AppendPiece(cut, s.subspan(2, 7), 2);
  AppendPiece(cut, s.subspan(9), 2);
  Put("frames", "stream-cut-at-odd-places", cut);
  Bytes limited{2, 1};  // limit 37 bytes
  AppendPiece(limited, stream, 2);
  Put("frames", "stream-over-a-small-limit", limited);
  Bytes unlimited{2, 0};
  AppendPiece(unlimited, stream, 2);
  AppendPiece(unlimited, Bytes{0, 0}, 2);  // and a length cut short
  Put("frames", "stream-whole", unlimited);
}

// ---- sync ----

Bytes SyncMessage(const pb::SyncMessage& m) {
  const std::string s = m.SerializeAsString();
  return Bytes(s.begin(), s.end());
}

void SyncCorpus(SyncWorld& w) {
  Clear("sync");
  // A real sync between the two devices, as "a" receives it.
  std::vector<Bytes> from_b;
  {
    net::SyncSession sa(w.a(), w.b_seen_by_a());
    net::SyncSession sb(w.b(), w.a_seen_by_b());
    if (!sa.Start().ok() || !sb.Start().ok()) Die("a session did not start");
    for (int round = 0; round < 1000 && (sa.HasOutgoing() || sb.HasOutgoing()); ++round) {
      while (sa.HasOutgoing()) {
        Bytes m = std::move(sa.outbox().front());
        sa.outbox().pop_front();
        if (!sb.Receive(m).ok()) Die("b refused a's message");
      }
      while (sb.HasOutgoing()) {
        Bytes m = std::move(sb.outbox().front());
        sb.outbox().pop_front();
        if (!sa.Receive(m).ok()) Die("a refused b's message");
        from_b.push_back(std::move(m));
      }
    }
    if (!sa.Complete() || sa.stats().records_received == 0) Die("the recorded sync did not deliver records");
  }
  Put("sync", "real-sync-from-partner", Pieced(0, from_b, 4));
  Put("sync", "real-sync-heads-only", Pieced(0, {from_b.front()}, 4));
  Put("sync", "real-sync-without-heads", Pieced(0, std::vector<Bytes>(from_b.begin() + 1, from_b.end()), 4));

  const feed::FeedId a_feed = w.a().Self().sign_key;
  pb::SyncMessage want;
  want.mutable_want()->set_feed(a_feed.data(), a_feed.size());
  want.mutable_want()->set_from_seq(1);
  pb::SyncMessage caught_up;
  caught_up.mutable_caught_up();
  pb::SyncMessage empty_heads;
  empty_heads.mutable_heads()->set_complete(true);
  Put("sync", "want-the-device-feed",
      Pieced(0, {SyncMessage(empty_heads), SyncMessage(want), SyncMessage(caught_up)}, 4));
  Put("sync", "caught-up-first", Pieced(0, {SyncMessage(caught_up)}, 4));

  // Mode 1: the op batches of the partner's records "a" lacks, and made-up ones.
  HEARTH_FUZZ_CHECK(w.ResetA().ok(), "reset");
  auto held = Must(w.a().HeadOf(w.b_feed()), "head");
  const std::uint64_t have = held ? held->length : 0;
  const auto records = Must(w.b().ReadRecords(w.b_feed(), have + 1, 1 << 20), "records");
  const crypto::SymmetricKey key = feed::RecordKey(w.b_keys().space_key);
  std::vector<Bytes> drafts;
  for (const feed::Record& r : records) {
    Bytes d{static_cast<std::uint8_t>(r.signature ? 1 : 0)};
    Append(d, Must(feed::OpenBody(r.body, key), "open"));
    drafts.push_back(d);
  }
  Put("sync", "sealed-partner-batches", Pieced(1, drafts, 4));
  Put("sync", "sealed-made-up-ops", Pieced(1, {Cat({Bytes{1}, codec::EncodeOpBatch(SampleOps(w.b().member_id()))})}, 4));
  Put("sync", "sealed-not-ops", Pieced(1, {Bytes{0, 1, 2, 3}, Bytes{1}}, 4));
}

// ---- invite, beacon, pairing ----

void InviteCorpus() {
  Clear("invite");
  net::Endpoint v4;
  v4.addr = {192, 168, 1, 20};
  v4.port = 47475;
  net::Endpoint v6;
  v6.v6 = true;
  v6.addr = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  v6.port = 1;
  const net::InviteCode partner = net::NewInvite(net::InviteKind::kPartner, {v4, v6});
  const net::InviteCode device = net::NewInvite(net::InviteKind::kDevice, {});
  const std::string text = net::EncodeInvite(partner);
  Put("invite", "code-partner-two-endpoints", Cat({Bytes{0}, B(text)}));
  Put("invite", "code-device", Cat({Bytes{0}, B(net::EncodeInvite(device))}));
  std::string typed = text.substr(7);
  for (char& c : typed) c = (c == '-') ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Put("invite", "code-typed-lowercase-with-spaces", Cat({Bytes{0}, B(typed)}));
  std::string mistyped = text;
  mistyped[10] = mistyped[10] == 'A' ? 'B' : 'A';
  Put("invite", "code-mistyped", Cat({Bytes{0}, B(mistyped)}));
  // Mode 1: a body (the harness adds the checksum).
  Bytes body{0x11};
  Append(body, partner.secret);
  body.push_back(2);
  Append(body, Bytes{4, 10, 0, 0, 1, 0xb9, 0x73});
  Append(body, Bytes{6});
  Append(body, v6.addr);
  Append(body, Bytes{0, 1});
  Put("invite", "body-two-endpoints", Cat({Bytes{1}, body}));
  Put("invite", "body-newer-version", Cat({Bytes{1, 0x21}, ByteView(body).subspan(1)}));
  Put("invite", "endpoint-v4", Cat({Bytes{2}, B("192.168.1.20:47475")}));
  Put("invite", "endpoint-v6", Cat({Bytes{2}, B("[fe80::1]:1")}));
  Put("invite", "endpoint-port-zero", Cat({Bytes{2}, B("1.2.3.4:0")}));
  Put("invite", "address-localhost", Cat({Bytes{3}, B("localhost:47476")}));
  Put("invite", "address-v6", Cat({Bytes{3}, B("[::1]:5")}));
  Put("invite", "address-port-too-big", Cat({Bytes{3}, B("10.0.0.1:99999")}));
}

void BeaconCorpus() {
  Clear("beacon");
  constexpr std::uint64_t kSeedTime = 1'795'000'000;  // as in fuzz_beacon.cc
  const crypto::SymmetricKey key = FixedSymmetricKey("discovery-key");
  const Bytes beacon = net::MakeBeacon(key.view(), kSeedTime, 47475);
  Put("beacon", "beacon", Cat({Bytes{0}, beacon}));
  Bytes magic = beacon;
  magic[0] = 'X';
  Put("beacon", "beacon-wrong-magic", Cat({Bytes{0}, magic}));
  Put("beacon", "beacon-short", Cat({Bytes{0}, ByteView(beacon).first(30)}));
  auto u64 = [](std::uint64_t v) {
    Bytes out;
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return out;
  };
  Put("beacon", "beacon-next-window", Cat({Bytes{1}, u64(kSeedTime + 300), beacon}));
  Put("beacon", "beacon-far-window", Cat({Bytes{1}, u64(kSeedTime + 900), beacon}));
  Put("beacon", "windows-adjacent", Cat({Bytes{2}, u64(kSeedTime), u64(kSeedTime + 299), Bytes{0xb9, 0x73}}));
  Put("beacon", "windows-at-zero", Cat({Bytes{2}, u64(0), u64(299), Bytes{0, 1}}));
  Put("beacon", "windows-at-the-end", Cat({Bytes{2}, u64(~0ull), u64(~0ull - 300), Bytes{0xff, 0xff}}));
}

void PairingCorpus(node::Node& inviter) {
  Clear("pairing");
  net::JoinRequest partner;
  partner.device = inviter.Self();
  partner.device.member = 0;
  partner.member_name = "Alex";
  Put("pairing", "join-partner", Cat({Bytes{0}, net::EncodeJoinRequest(partner)}));
  net::JoinRequest own;
  own.device = inviter.Self();
  own.device.name = "sam-phone";
  Put("pairing", "join-own-device", Cat({Bytes{0}, net::EncodeJoinRequest(own)}));
  Bytes trailing = net::EncodeJoinRequest(own);
  trailing.push_back(0);
  Put("pairing", "join-trailing-byte", Cat({Bytes{0}, trailing}));
  for (bool own_device : {false, true}) {
    const crypto::SecretBytes grant = net::EncodeGrant(inviter.MakeGrant(own_device));
    Put("pairing", own_device ? "grant-own-device" : "grant-partner", Cat({Bytes{1}, grant.view()}));
  }
}

// ---- relay ----

Bytes RelayRequest(const relay::pb::Request& r) {
  const std::string s = r.SerializeAsString();
  return Bytes(s.begin(), s.end());
}
Bytes RelayEventBytes(const relay::pb::Event& e) {
  const std::string s = e.SerializeAsString();
  return Bytes(s.begin(), s.end());
}

void RelayCorpus() {
  Clear("relay");
  const auto key0 = FixedSigningKey("mailbox-0");
  const relay::MailboxId m0 = relay::MailboxOf(key0.public_key());
  const std::string mailbox(reinterpret_cast<const char*>(m0.data()), m0.size());
  const std::string stream(32, '\x07');
  auto raw = [](Bytes& out, const Bytes& request) {
    out.push_back(0);
    AppendPiece(out, request, 4);
  };

  // Server: open mailbox 0, then every request once.
  relay::pb::Request listen, put, heads, get, connect, accept;
  listen.mutable_listen()->set_mailbox(mailbox);
  put.mutable_put()->set_mailbox(mailbox);
  put.mutable_put()->set_stream(stream);
  put.mutable_put()->set_first_seq(1);
  put.mutable_put()->add_blobs("first blob");
  put.mutable_put()->add_blobs("second blob");
  heads.mutable_heads()->set_mailbox(mailbox);
  get.mutable_get()->set_mailbox(mailbox);
  get.mutable_get()->set_stream(stream);
  get.mutable_get()->set_from_seq(1);
  get.mutable_get()->set_max_bytes(1000);
  connect.mutable_connect()->set_mailbox(mailbox);
  connect.mutable_connect()->set_peer(1);
  accept.mutable_accept()->set_mailbox(mailbox);
  accept.mutable_accept()->set_pipe(1);
  Bytes store_session{0, 1, 2};  // mode, Open of key 0, a keep-alive
  for (const auto* r : {&put, &heads, &get}) raw(store_session, RelayRequest(*r));
  Put("relay", "server-store-and-fetch", store_session);
  Bytes listen_session{0, 1, 4};  // both mailboxes opened
  raw(listen_session, RelayRequest(listen));
  raw(listen_session, RelayRequest(connect));
  Put("relay", "server-listen-then-connect", listen_session);
  Bytes accept_session{0, 1};
  raw(accept_session, RelayRequest(accept));
  Put("relay", "server-accept-unknown-pipe", accept_session);
  Bytes unopened{0};
  raw(unopened, RelayRequest(put));
  Put("relay", "server-put-unopened", unopened);
  Bytes garbage{0};
  raw(garbage, B("\xff\xff\xff"));
  Put("relay", "server-garbage", garbage);

  // Client: a plan of two calls, then the relay's events.
  relay::pb::Event opened, listening, peer, incoming, failure, mailbox_heads, blobs, stored, spliced;
  opened.mutable_opened()->set_mailbox(mailbox);
  listening.mutable_listening()->set_mailbox(mailbox);
  listening.mutable_listening()->set_present(1);
  peer.mutable_peer()->set_mailbox(mailbox);
  peer.mutable_peer()->set_token(42);
  incoming.mutable_incoming()->set_mailbox(mailbox);
  incoming.mutable_incoming()->set_pipe(42);
  failure.mutable_failure()->set_code(static_cast<std::uint32_t>(relay::RelayErrc::kQuotaFull));
  failure.mutable_failure()->set_message("The mailbox is full.");
  auto* h = mailbox_heads.mutable_mailbox_heads();
  h->set_mailbox(mailbox);
  auto* s1 = h->add_streams();
  s1->set_stream(std::string(32, '\x01'));
  s1->set_first(1);
  s1->set_last(3);
  auto* s2 = h->add_streams();
  s2->set_stream(stream);
  s2->set_first(2);
  s2->set_last(2);
  h->set_bytes_used(100);
  h->set_bytes_quota(1000);
  blobs.mutable_blobs()->set_stream(stream);
  blobs.mutable_blobs()->set_first_seq(5);
  blobs.mutable_blobs()->add_blobs("blob five");
  blobs.mutable_blobs()->add_blobs("blob six");
  stored.mutable_stored()->set_stream(stream);
  stored.mutable_stored()->set_first_seq(1);
  stored.mutable_stored()->set_count(2);
  stored.mutable_stored()->set_added(2);
  spliced.mutable_spliced();
  auto client = [&](int first, int second, std::initializer_list<const relay::pb::Event*> events) {
    Bytes out{1, static_cast<std::uint8_t>(first | (second << 3))};
    for (const auto* e : events) AppendPiece(out, RelayEventBytes(*e), 4);
    return out;
  };
  Put("relay", "client-open-listen-peer", client(0, 1, {&opened, &listening, &peer, &incoming, &failure}));
  Put("relay", "client-heads-get", client(2, 3, {&mailbox_heads, &blobs}));
  Put("relay", "client-put-then-events", client(4, 5, {&stored, &peer}));
  Put("relay", "client-pipes", client(6, 7, {&spliced}));
  Put("relay", "client-refused", client(2, 4, {&failure, &failure}));
  Put("relay", "client-out-of-order", client(5, 5, {&blobs, &opened}));

  const relay::RelayAddress address{"127.0.0.1:47476", FixedDhKey("relay").public_key()};
  Put("relay", "address-v4", Cat({Bytes{2}, B(relay::FormatRelayAddress(address))}));
  Put("relay", "address-v6", Cat({Bytes{2}, B(relay::FormatRelayAddress({"[::1]:1", address.key}))}));
  Put("relay", "address-short-key", Cat({Bytes{2}, B("localhost:1/abcd")}));
}

// ---- export JSON and editing traces ----

void ExportCorpus() {
  Clear("export_json");
  Put("export_json", "sample-1-week", B(exporter::RenderJson(exporter::testing::SampleDocument(1))));
  Put("export_json", "sample-3-weeks", B(exporter::RenderJson(exporter::testing::SampleDocument(3))));
  Put("export_json", "empty-object", B("{}"));
  const std::string sample = exporter::RenderJson(exporter::testing::SampleDocument(1));
  Put("export_json", "sample-cut-short", B(sample.substr(0, sample.size() / 2)));
}

Bytes Gzip(std::string_view data) {
  uLongf cap = compressBound(static_cast<uLong>(data.size())) + 64;
  Bytes out(cap);
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) Die("zlib");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) Die("zlib");
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

void TraceCorpus(const char* real_trace) {
  Clear("trace");
  const std::string tiny =
      R"({"startContent":"","endContent":"hi!","txns":[{"time":"2026-11-22T10:00:00Z","patches":[[0,0,"hello"],[0,5,"hi"],[2,0,"!"]]}]})";
  Put("trace", "tiny-plain", Cat({Bytes{0}, B(tiny)}));
  Put("trace", "tiny-gzip", Cat({Bytes{0}, Gzip(tiny)}));
  Put("trace", "tiny-json-for-gzip", Cat({Bytes{1}, B(tiny)}));
  Put("trace", "concurrent", Cat({Bytes{1}, B(R"({"endContent":"","txns":[{"parents":[],"patches":[]}]})")}));
  Put("trace", "start-content", Cat({Bytes{1}, B(R"({"startContent":"x","endContent":"","txns":[]})")}));
  if (real_trace == nullptr) return;
  gzFile f = gzopen(real_trace, "rb");
  if (f == nullptr) Die(std::string("cannot read ") + real_trace);
  std::string raw;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) raw.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  const nlohmann::json whole = nlohmann::json::parse(raw);
  // The first 150 transactions, and the text they leave.
  nlohmann::json part = {{"startContent", ""}, {"txns", nlohmann::json::array()}};
  std::u32string text;
  for (std::size_t i = 0; i < 150 && i < whole["txns"].size(); ++i) {
    const auto& txn = whole["txns"][i];
    part["txns"].push_back(txn);
    for (const auto& p : txn["patches"]) {
      const std::size_t pos = p[0].get<std::size_t>(), del = p[1].get<std::size_t>();
      text.erase(pos, del);
      text.insert(pos, crdt::Utf8ToU32(p[2].get<std::string>()));
    }
  }
  part["endContent"] = crdt::U32ToUtf8(text);
  Put("trace", "automerge-paper-first-150", Cat({Bytes{0}, Gzip(part.dump())}));
}

}  // namespace
}  // namespace hearth::fuzz

int main(int argc, char** argv) {
  using namespace hearth;
  using namespace hearth::fuzz;
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus DIR [TRACE.json.gz]\n");
    return 2;
  }
  out_dir = argv[1];
  InstallSeededRandom();
  if (!crypto::Init().ok()) Die("libsodium did not initialize");

  auto world = SyncWorld::Create(ScratchDir("make-corpus"));
  if (!world) Die("could not build the two devices of the sync corpus");
  SyncCorpus(*world);
  RecordsCorpus(Must(world->b().ReadablePlaintexts(), "plaintexts"), world->b().member_id());
  PairingCorpus(world->a());
  NoiseCorpus();
  FramesCorpus();
  InviteCorpus();
  BeaconCorpus();
  RelayCorpus();
  ExportCorpus();
  TraceCorpus(argc > 2 ? argv[2] : nullptr);
  std::printf("fuzz_make_corpus: %zu files, %zu bytes\n", files_written, bytes_written);
  return 0;
}
