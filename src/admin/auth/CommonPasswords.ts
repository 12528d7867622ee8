/**
 * Passwords and password stems people pick first, lower-case, drawn from the
 * most frequent entries of public breach corpora (RockYou, the yearly
 * "worst passwords" lists) plus product and season words. PasswordPolicy
 * compares a password against these after lower-casing, undoing common
 * letter-for-symbol swaps and stripping trailing digits and punctuation, so
 * "Password123!" and "Qwertyuiop2024" are caught by "password" and
 * "qwertyuiop". Data, not code: extend freely.
 */
export const COMMON_PASSWORDS: ReadonlyArray<string> = `
123456 123456789 12345678 1234567890 12345 1234567 111111 123123 000000 654321
666666 121212 112233 123321 987654321 1q2w3e4r 1q2w3e4r5t 1qaz2wsx qwerty qwertyuiop
qwerty123 qwertz azerty asdfgh asdfghjkl zxcvbnm zxcvbn qazwsx q1w2e3r4 abc123
abcd1234 a1b2c3 abcdef abcdefg abcdefgh password passw0rd password1 passwort motdepasse
contrasena contrasenya senha wachtwoord salasana haslo parola lozinka heslo jelszo
letmein welcome welcome1 hello hellothere iloveyou loveyou lovely love loveme
monkey dragon master shadow sunshine princess football baseball basketball soccer
hockey superman batman spiderman starwars pokemon trustno1 freedom whatever
nothing secret secrets default changeme changeit temp temporary guest test test123
testing tester demo sample example admin administrator root toor login logon
access master123 letmein1 welcome123 welcomehome ninja mustang michael jennifer
jordan hunter ranger harley thomas robert daniel charlie andrew matthew joshua
jessica ashley amanda michelle nicole hannah samantha elizabeth taylor summer
winter spring autumn fall january february march april may june july august
september october november december monday tuesday wednesday thursday friday
saturday sunday computer internet google facebook twitter instagram linkedin
microsoft windows apple macbook iphone samsung android office outlook exchange
office365 imprint signature email mail mailbox company business corporate
service support helpdesk manager user username account accounts security
secure private public server network system systems database oracle mysql
postgres linux ubuntu debian redhat cisco vmware azure amazon aws cloud
killer pepper ginger cookie chocolate banana orange apple123 cheese coffee
butterfly flower flowers rainbow angel angels baby babygirl babyboy beautiful
princess1 sweetheart sweety honey kitten kitty puppy doggie tigger tiger lion
eagle falcon phoenix dolphin panther jaguar cowboy cowboys yankees lakers
chelsea arsenal liverpool manchester barcelona madrid juventus qwerty1 zaq12wsx
zaq1xsw2 1qazxsw2 q1w2e3r4t5 asdf1234 asdfasdf qweasd qweasdzxc pass pass123
pass1234 passpass passwd password12 password123 mypassword yourpassword
newpassword oldpassword mypass letmeinnow openup opensesame access14 master1
shadow1 michael1 superman1 batman1 charlie1 daniel1 thunder lightning
starlight midnight moonlight sunset sunrise diamond silver golden gold platinum
money money123 dollar bitcoin crypto blockchain freedom1 liberty america
canada england london paris berlin germany france italia espana mexico brasil
india china japan russia australia newyork chicago boston dallas london1
soccer1 football1 baseball1 hockey1 golfer tennis runner cycling fitness
matrix hacker hacked hackme zombie vampire wizard merlin gandalf frodo hobbit
voyager enterprise startrek galaxy universe planet jupiter saturn mercury
computer1 internet1 letmein12 asdfghjkl1 trustme believe jesus christ god
godisgood blessed angel1 heaven faith hope family friends friend buddy
bestfriend forever together happy smile lucky lucky7 chance destiny
qwerty12 qwerty1234 1234qwer 4321 password! p4ssword adminadmin administrator1
rootroot root123 toor123 admin123 admin1234 user123 guest123 test1234 demo123
welcome2 spring2024 summer2024 autumn2024 winter2024 spring2025 summer2025
autumn2025 winter2025 spring2026 summer2026 autumn2026 winter2026 company123
`
  .trim()
  .split(/\s+/)
