// hearth::node — one Hearth node on one device: the facade the CLI uses.
//
// A Node owns the home directory's key file and database. Every change is a
// batch of ops committed as one signed, encrypted record in this device's
// feed, together with the updated (encrypted) items, in one SQLite
// transaction: either all of it is on disk or none of it. Reads come from the
// materialized items; Verify() re-checks every record and rebuilds the model.
//
// Input checks (lengths, ranges, UTF-8) happen here, before any op exists, and
// fail with kInvalidInput and nothing changed.
//
// Threading: a Node is used from one thread. Several processes may open the
// same home; SQLite serializes their writes.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"
#include "core/crypto/crypto.h"
#include "core/feed/record.h"
#include "core/keys/keystore.h"
#include "core/model/model.h"

namespace hearth::node {

using model::ItemId;
using model::Kind;
using model::MemberId;

// Limits on what a person can put in one item (docs/user-guide.md).
inline constexpr std::size_t kMaxTextBytes = 256 * 1024;
inline constexpr std::size_t kMaxTitleBytes = 200;
inline constexpr std::size_t kMaxTagBytes = 64;
inline constexpr std::size_t kMaxTags = 32;
inline constexpr std::size_t kMaxNameBytes = 64;
inline constexpr std::size_t kMaxNoteBytes = 4096;

// The check-in prompts, in order (docs/user-guide.md explains their source).
// Prompt 0 is answered with a number from 1 to 10.
const std::vector<std::string>& CheckinPrompts();

struct InitOptions {
  std::string member_name;
  std::string device_name;
  std::optional<crypto::SecretBytes> passphrase;  // none: key file kept with 0600
};

struct EntryDraft {
  std::string text;
  std::string title;
  std::optional<std::int64_t> mood;
  std::vector<std::string> tags;
  bool is_private = false;
  std::optional<std::int64_t> date;  // day number
  bool memory = false;
};

// A text as it was opened for editing: what was shown, and the ids of its
// characters, so a save can be diffed against exactly that version.
struct OpenedText {
  std::string text;
  std::vector<crdt::CharId> ids;  // one per code point of `text`; empty before texts were sequences
};

struct FollowThroughView {
  std::string period;
  bool kept = false;
  std::string note;
  friend bool operator==(const FollowThroughView&, const FollowThroughView&) = default;
};

// A commitment's follow-through as of one day (docs/user-guide.md,
// "Commitments"): the current streak of kept periods, and how many of the
// last 4 and 12 periods were kept, of those recorded. The current period
// counts once it is recorded; before that the window ends at the one before.
struct FollowThroughStats {
  std::uint32_t streak = 0;
  std::uint32_t kept4 = 0, recorded4 = 0;
  std::uint32_t kept12 = 0, recorded12 = 0;
  std::uint32_t missed_in_a_row = 0;  // recorded missed periods in a row, counted back the same way
  friend bool operator==(const FollowThroughStats&, const FollowThroughStats&) = default;
};

// Periods of a rhythm, as day numbers: the first day of the period holding
// `day` (ISO weeks start on Monday), the first day of the next one, and the
// period's name (2026-11-22, 2026-W47, 2026-11).
std::int64_t PeriodStart(model::Rhythm r, std::int64_t day);
std::int64_t NextPeriodStart(model::Rhythm r, std::int64_t start);
std::string PeriodName(model::Rhythm r, std::int64_t day);
// A commitment's streak and kept rates as of `day`, from its records.
FollowThroughStats StatsAsOf(const std::vector<FollowThroughView>& records, model::Rhythm r, std::int64_t day);

struct AnswerView {
  std::string member;
  MemberId member_id = 0;
  std::vector<std::string> answers;  // one per prompt; "" when skipped (or still sealed)
  // The member answered, but their answers stay sealed on this device until
  // this member has answered too (docs/checkin-sealing.md).
  bool sealed = false;
  friend bool operator==(const AnswerView&, const AnswerView&) = default;
};

// One item as a reader sees it, with names resolved.
struct ItemView {
  ItemId id = 0;
  Kind kind = Kind::kUnknown;
  std::string author;
  MemberId author_id = 0;
  bool mine = false;
  std::int64_t created_ms = 0;
  std::int64_t day = 0;
  std::string text;
  // entry
  std::string title;
  std::optional<std::int64_t> mood;
  std::vector<std::string> tags;
  bool is_private = false;
  bool memory = false;
  // appreciation
  std::string to;
  // commitment
  model::Owner owner = model::Owner::kAuthor;
  model::Rhythm rhythm = model::Rhythm::kWeek;
  std::vector<FollowThroughView> follow_through;  // oldest period first
  FollowThroughStats stats;                       // as of today
  std::string current_period;                     // the period `keep` and `miss` record now
  ItemId replaces = 0;     // the commitment this one renegotiated (0: none)
  ItemId replaced_by = 0;  // the commitment that renegotiated this one (0: none; still current)
  // check-in
  std::string period;
  std::vector<AnswerView> answers;
  friend bool operator==(const ItemView&, const ItemView&) = default;
};

struct ListQuery {
  std::vector<Kind> kinds;  // empty: entries, appreciations, commitments, check-ins
  std::optional<std::int64_t> from_day, to_day;
  std::optional<std::string> tag;
  std::optional<std::string> author;  // a member's name
  std::size_t limit = 0;              // 0: no limit
};

struct MemberView {
  MemberId id = 0;
  std::string name;
  bool me = false;
};

struct DeviceView {
  std::string id;  // hex of the device's public key
  std::string name;
  std::string member;
  bool this_device = false;
};

struct PeerView {
  std::string device;  // the device's name in the roster
  std::string member;
  std::string address;
  bool connected = false;
  std::int64_t last_seen_ms = 0;
  std::uint64_t they_lack = 0;  // records held here that the peer had not received
};

struct StatusView {
  std::vector<PeerView> peers;
  std::vector<std::string> forks;  // "feed-prefix reason"
  std::string space_id;
  MemberView me;
  DeviceView device;
  std::vector<MemberView> members;
  std::vector<DeviceView> devices;
  std::uint64_t records_here = 0;      // records in this device's feed
  std::uint64_t records_total = 0;     // records of every feed held here
  bool passphrase = false;
  bool checkin_due = false;                   // this member has not answered this period's check-in
  bool checkin_partner_answered = false;      // the partner has (their answers open when this member answers)
  std::string checkin_period;                 // 2026-W47 or 2026-11
  model::Rhythm checkin_rhythm = model::Rhythm::kWeek;
  std::int64_t checkin_next_day = 0;          // the first day of the next check-in period
  std::vector<ItemView> commitments_due;
  bool signals_enabled = true;
  std::vector<std::string> signals;           // gentle signals, one sentence each (empty when off)
};

// ---- sync (used by net/; see docs/sync-protocol.md) ----

// Most records one received batch may hold (a batch is also bounded in bytes
// by the transport).
inline constexpr std::size_t kMaxRecordsPerBatch = 4096;
// Most feeds an invite may ask the joiner to trust.
inline constexpr std::size_t kMaxTrustedFeeds = 64;

// One feed's place: how many records and the hash of the last one.
struct FeedHead {
  feed::FeedId feed{};
  std::uint64_t length = 0;
  crypto::Digest hash{};
};

// A device of the space, as the roster knows it.
struct RosterDevice {
  ItemId id = 0;  // the device tag
  MemberId member = 0;
  std::string name;
  crypto::PublicKey sign_key{};
  crypto::PublicKey dh_key{};
  std::optional<crypto::PublicKey> private_feed;
};

// What happened to a batch of received records.
struct ApplyOutcome {
  std::uint64_t applied = 0;     // new records stored
  std::uint64_t duplicates = 0;  // records already held (harmless)
  bool roster_changed = false;   // the peer may now offer feeds we accept
  bool wrote = false;            // this device wrote a record of its own in answer (a check-in reveal)
};

// What an inviter hands a joining device over the pairing channel.
struct SpaceGrant {
  std::array<std::uint8_t, 16> space_id{};
  crypto::SymmetricKey space_key;
  // A device invite also carries the member: its id and member-private key.
  std::optional<std::pair<MemberId, crypto::SymmetricKey>> member;
  // The feeds the inviter accepts (every roster device's shared feed, plus
  // this member's private feeds for a device invite): the joiner trusts them
  // until its own copy of the roster names them.
  std::vector<feed::FeedId> trusted_feeds;
  std::vector<feed::FeedId> trusted_private_feeds;  // device invites only
};

// A device being added to the roster.
struct NewDevice {
  MemberId member = 0;
  std::string name;
  crypto::PublicKey sign_key{};
  crypto::PublicKey dh_key{};
  crypto::PublicKey private_feed{};
};

// The keys of one relay mailbox (docs/relay-protocol.md, "A space's
// mailboxes"). The shared mailbox is derived from the space key, so every
// device of the space can open it; a member's mailbox from the member key, so
// only that member's devices can, and only it receives their private feeds.
struct MailboxKeys {
  crypto::SigningKey open;       // its public half names the mailbox; it signs the Open proof
  crypto::SymmetricKey seal;     // seals each record left in the mailbox
  crypto::SymmetricKey streams;  // keys the stream id of each feed
  bool member = false;
};

struct VerifyReport {
  std::uint64_t feeds = 0;
  std::uint64_t records = 0;
  std::uint64_t ops = 0;
  std::uint64_t items = 0;
};

class Node {
 public:
  // Creates a new space in `home` (which must not hold one) with this device
  // as its first device.
  static Result<std::unique_ptr<Node>> Init(const std::filesystem::path& home, InitOptions options,
                                            Clock& clock);
  // Creates a home for a device joining an existing space (after pairing).
  // `device` holds this device's keys, made before pairing (the inviter
  // learns their public halves first); its space and, for an own-device
  // grant, member fields are replaced by the grant's.
  static Result<std::unique_ptr<Node>> Join(const std::filesystem::path& home, InitOptions options,
                                            SpaceGrant grant, keys::DeviceKeys device, Clock& clock);
  // The public key of the private feed that belongs to `device`.
  static crypto::PublicKey PrivateFeedOf(const crypto::SigningKey& device);
  // kNotFound when `home` holds no space.
  static Result<bool> NeedsPassphrase(const std::filesystem::path& home);
  static Result<std::unique_ptr<Node>> Open(const std::filesystem::path& home,
                                            const std::optional<crypto::SecretBytes>& passphrase,
                                            Clock& clock);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  Result<ItemId> Write(const EntryDraft& draft);
  Result<ItemId> Appreciate(const std::string& text);
  Result<ItemId> Commit(const std::string& text, model::Rhythm rhythm, model::Owner owner);
  // Records kept/missed for the commitment's current period; returns the period.
  Result<std::string> FollowThrough(ItemId id, bool kept, const std::string& note);
  // Answers this period's check-in (one answer per prompt), sealed until the
  // partner has answered too (docs/checkin-sealing.md). Returns its id.
  Result<ItemId> CheckIn(const std::vector<std::string>& answers);
  // The couple's check-in rhythm (shared; weekly unless set): kWeek or kMonth.
  Status SetCheckinRhythm(model::Rhythm rhythm);
  model::Rhythm CheckinRhythm();
  // Replaces a commitment with a renegotiated one. The old commitment keeps
  // its text and follow-through (its history) and points to the new one.
  // Rhythm and owner default to the old commitment's (the same people).
  Result<ItemId> Renegotiate(ItemId id, const std::string& text, std::optional<model::Rhythm> rhythm,
                             std::optional<model::Owner> owner);
  // Whether `status` shows gentle signals on this device (on by default).
  Status SetSignals(bool on);
  Result<std::string> Agreements();
  // Editable texts (entry, appreciation and commitment text; the agreements)
  // are sequence CRDTs: a save is diffed against the version that was opened,
  // so what the partner changed meanwhile is kept (docs/text-crdt.md).
  Result<OpenedText> OpenAgreements();
  Status SetAgreements(const OpenedText& opened, const std::string& text);
  Status SetAgreements(const std::string& text);  // opened now, saved now
  Result<OpenedText> OpenText(ItemId id);
  Status Edit(ItemId id, const OpenedText& opened, const std::string& text);
  Status Edit(ItemId id, const std::string& text);  // opened now, saved now
  Status Delete(ItemId id);

  // An id from a unique hex prefix (1 to 16 digits). kNotFound, kAmbiguous.
  Result<ItemId> Resolve(std::string_view prefix);
  Result<ItemView> Get(ItemId id);
  Result<std::vector<ItemView>> List(const ListQuery& query);
  Result<std::vector<ItemView>> Search(std::string_view query, std::size_t limit);
  // Items about this calendar day in earlier years, newest first.
  Result<std::vector<ItemView>> OnThisDay();
  // A random earlier appreciation or memory, if there is one.
  Result<std::optional<ItemView>> RandomMemory();
  Result<StatusView> GetStatus();
  // The members of the space (from the roster held here) and the space's id
  // (32 hex digits): the cheap part of GetStatus.
  std::vector<MemberView> Members() const;
  std::string SpaceId() const;
  // Re-checks every record (chain, signature, decryption) and that the stored
  // items equal a rebuild from the records. kIntegrity names the first failure.
  Result<VerifyReport> Verify();
  // Everything this device's keys can decrypt from its database: each
  // record's op batch and each stored item's state. Tests use it to show
  // what a device cannot read (a partner's sealed answers).
  Result<std::vector<Bytes>> ReadablePlaintexts();

  // Commits each batch as one record, all in one transaction: the bulk path
  // used by imports and benchmarks. Op hlc values are assigned here.
  Status CommitBatches(std::vector<std::vector<model::Op>> batches, feed::Scope scope);

  // -- pairing --
  // The keys a joining device receives (a device invite adds this member's).
  SpaceGrant MakeGrant(bool own_device) const;
  // Adds a paired device (and, for a partner, its member) to the roster with
  // a signed op in this device's feed.
  Status AddDevice(const NewDevice& device, const std::optional<std::string>& new_member_name);
  // This device as a NewDevice (what it tells an inviter when it joins).
  NewDevice Self() const;

  // Pending invites, filed by a public id; the secret is sealed at rest.
  struct Invite {
    bool own_device = false;
    std::int64_t expires_ms = 0;
    bool used = false;
    crypto::SymmetricKey secret;  // the code's secret (padded to 32 bytes)
  };
  using InviteId = std::array<std::uint8_t, 16>;
  Status AddInvite(const InviteId& id, bool own_device, std::int64_t expires_ms, ByteView secret);
  Result<std::optional<Invite>> GetInvite(const InviteId& id);
  Status MarkInviteUsed(const InviteId& id);
  std::int64_t NowMs() const;

  // -- sync --
  // This device's static X25519 key (its Noise identity).
  const crypto::DhKey& dh_key() const;
  // The key LAN beacons are tagged with (docs/discovery.md): derived from the
  // space key, so every device of the space has it and nobody else does.
  crypto::SymmetricKey DiscoveryKey() const;
  // The relay mailboxes of this device: the space's and this member's.
  MailboxKeys SharedMailbox() const;
  MailboxKeys MemberMailbox() const;
  // The feeds whose records belong in a mailbox: every shared feed of the
  // roster (and those trusted at pairing) for the shared one, this member's
  // private feeds for the member's. Every one of them is accepted here.
  std::vector<feed::FeedId> MailboxFeeds(bool member) const;
  // The relay address saved in the space (`hearth relay set`), synced to
  // every device; empty when none is saved.
  Result<std::string> SavedRelay();
  // Saves (or, with "", clears) the space's relay address.
  Status SaveRelay(const std::string& address);
  // The roster device whose X25519 key is `dh`, if any.
  std::optional<RosterDevice> DeviceByDhKey(const crypto::PublicKey& dh) const;
  std::vector<RosterDevice> Devices() const;
  // Heads of the feeds `peer` may receive: every shared feed, and private
  // feeds only when `peer` is a device of this device's own member.
  Result<std::vector<FeedHead>> HeadsFor(const RosterDevice& peer);
  Result<std::optional<FeedHead>> HeadOf(const feed::FeedId& feed);
  bool MaySend(const feed::FeedId& feed, const RosterDevice& peer) const;
  // Whether records of `feed` are accepted here: a roster device's feed, or a
  // private feed of this member's devices, or a feed trusted at pairing.
  bool Accepts(const feed::FeedId& feed) const;
  // Records of `feed` from `from_seq` on, in whole signed runs (so every batch
  // verifies on its own), stopping before `max_bytes` of bodies is passed
  // (but always at least one run when any remains).
  Result<std::vector<feed::Record>> ReadRecords(const feed::FeedId& feed, std::uint64_t from_seq,
                                                std::size_t max_bytes);
  // Checks and stores records of `feed` starting at `first_seq`, in one
  // transaction: chain, signatures (the batch must end signed), decryption,
  // op bounds, authorship. Records already held are skipped if identical; a
  // different record at a held place is a fork (kIntegrity, recorded for
  // `status`). A batch that starts past the head (a gap) is kInvalidInput.
  Result<ApplyOutcome> ApplyRecords(const feed::FeedId& feed, std::uint64_t first_seq,
                                    const std::vector<feed::Record>& records);
  // Compares a peer's view of a feed with ours; a different hash at a place
  // both hold is a fork (recorded and returned as kIntegrity).
  Status CheckPeerHead(const FeedHead& theirs);
  // Feeds a fork was seen on (hex feed ids with a short reason).
  Result<std::vector<std::string>> Forks();
  // Peers seen by `serve` or `sync`, for `status` (kept in the database as
  // device tags and addresses, never names).
  struct PeerNote {
    ItemId device = 0;
    bool connected = false;
    std::int64_t last_seen_ms = 0;
    std::string address;  // where it was reached; empty (when it dialed in) keeps the last one
    std::uint64_t they_lack = 0;  // records this device holds that the peer does not
  };
  Status NotePeer(const PeerNote& note);
  Result<std::vector<PeerNote>> Peers();
  // Trusts `feed` before it appears in the roster (the inviter's feed, at join).
  Status TrustFeed(const feed::FeedId& feed, bool private_feed);
  // A number that changes whenever another connection commits to the
  // database (SQLite's data_version): how `serve` notices CLI writes.
  Result<std::int64_t> DataVersion();

  MemberId member_id() const;
  std::uint64_t device_tag() const;
  // A fresh random item id.
  static ItemId NewItemId();

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  static Result<std::unique_ptr<Node>> Create(const std::filesystem::path& home, InitOptions options,
                                              keys::DeviceKeys keys, bool new_member,
                                              const SpaceGrant* grant, Clock& clock);
  // The ops of a device item; `author` is the member who adds it. `vouch`
  // (when the author is the device's own member) proves the membership.
  static void AppendDeviceOps(std::vector<model::Op>& ops, const NewDevice& device, MemberId author,
                              const std::optional<Bytes>& vouch);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hearth::node
